"""``POST /chatkit``: the ChatKit protocol endpoint.

Authentication, one of:

* ``Authorization: Bearer <client_secret>`` of a live session: the session fixes the
  project, the user and the workflow, and its rate limit applies;
* ``Authorization: Bearer <project API key>`` plus ``X-ChatKit-User: <user>`` (and
  optionally ``X-ChatKit-Workflow: <id>``) for server-to-server callers.

Everything that can be refused is refused before a stream starts, with an HTTP
status and OpenAI's error envelope: a bad body (400), a missing or foreign thread
or item (404), a locked or closed thread (409), something the workflow does not
support (400). Errors inside a stream become the protocol's ``error`` event and the
stream ends cleanly. When the client goes away mid-stream the turn is cancelled the
way ``ChatKitServer`` defines it: the partial assistant message is kept.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, get_args

import orjson
from chatkit.errors import ErrorCode
from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    ChatKitReq,
    ClientToolCallItem,
    ErrorEvent,
    InputTranscribeReq,
    ItemsListReq,
    StructuredInputItem,
    ThreadMetadata,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    UserMessageItem,
    WidgetItem,
)
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from threadkit.attachments import FileStorage
from threadkit.config import Settings
from threadkit.protocol.context import ChatContext
from threadkit.protocol.server import ThreadkitServer
from threadkit.services.attachments import AttachmentService
from threadkit.services.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
)
from threadkit.services.keys import KeyService
from threadkit.services.ratelimit import RateLimiter
from threadkit.services.sessions import MAX_USER, SessionService, is_session_secret
from threadkit.stores.base import ThreadStore
from threadkit.workflows import Unsupported, WorkflowRegistry

from .auth import bearer_token
from .routing import route

log = logging.getLogger("threadkit.chatkit")

USER_HEADER = "x-chatkit-user"
WORKFLOW_HEADER = "x-chatkit-workflow"

_REQUEST: TypeAdapter[Any] = TypeAdapter(ChatKitReq)
REQUEST_TYPES: tuple[str, ...] = tuple(
    cls.model_fields["type"].default for cls in get_args(get_args(ChatKitReq)[0])
)
_background: set[asyncio.Task[None]] = set()


# --- the request body --------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or ``PayloadTooLarge`` as soon as it passes ``limit`` bytes."""
    too_large = PayloadTooLarge(
        f"The request body is too large: the limit is {limit} bytes.", code="request_too_large"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _location(loc: tuple[Any, ...]) -> str:
    # pydantic names the union member (the request type) first: drop it.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in REQUEST_TYPES else [str(p) for p in loc]
    return ".".join(parts) or "body"


def parse_request(body: bytes) -> Any:
    """The typed protocol request, or ``InvalidRequest`` naming what is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"We could not parse the JSON body of your request ({exc}). "
            "POST /chatkit expects a JSON object {type, params, metadata}.",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest(
            "Invalid request body: expected a JSON object {type, params, metadata}.",
            code="invalid_type",
        )
    if "type" not in data:
        raise InvalidRequest(
            "Missing required parameter: 'type'.", param="type", code="missing_required_parameter"
        )
    kind = data["type"]
    if kind not in REQUEST_TYPES:
        raise InvalidRequest(
            f"Invalid 'type': unknown request type {str(kind)[:100]!r}. "
            f"Expected one of: {', '.join(REQUEST_TYPES)}.",
            param="type",
            code="invalid_value",
        )
    try:
        return _REQUEST.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _location(tuple(first["loc"]))
        if first["type"] == "missing":
            raise InvalidRequest(
                f"Missing required parameter: '{where}'.",
                param=where,
                code="missing_required_parameter",
            ) from None
        raise InvalidRequest(
            f"Invalid '{where}': {first['msg']}.", param=where, code="invalid_value"
        ) from None


# --- the streamed answer -----------------------------------------------------------------


def _error_frame() -> bytes:
    event = ErrorEvent(code=ErrorCode.STREAM_ERROR, allow_retry=True)
    return b"data: " + event.model_dump_json(exclude_none=True).encode() + b"\n\n"


async def _guarded(stream: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The stream, ending with an ``error`` event instead of a broken connection."""
    try:
        async for chunk in stream:
            yield chunk
    except Exception:
        log.exception("error inside a ChatKit stream")
        yield _error_frame()


class EventStream(Response):
    """Server-sent events from an async iterator, driven by a task of its own.

    The iterator runs in a separate task so that a client disconnect can cancel it
    with one plain ``CancelledError``, delivered where the workflow is waiting;
    ``ChatKitServer`` then saves the partial answer, which needs to await the store
    (impossible inside a cancelled AnyIO scope, where Starlette's streaming response
    would run it).
    """

    media_type = "text/event-stream"

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        super().__init__(headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
        # Response sets content-length: 0 for its empty body; a stream has none.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def produce() -> None:
            try:
                async for chunk in self.chunks:
                    queue.put_nowait(chunk)  # never waits: cancellation lands in the stream
            finally:
                queue.put_nowait(None)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        producer = asyncio.create_task(produce())
        _background.add(producer)
        producer.add_done_callback(_background.discard)
        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break  # the client went away
                chunk = getter.result()
                if chunk is None:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            watcher.cancel()
            if not producer.done():
                producer.cancel()
            # Not cancelled with us: the producer finishes saving what it must.
            await asyncio.wait({producer})
            if not producer.cancelled() and producer.exception() is not None:
                log.error("ChatKit stream failed", exc_info=producer.exception())


# --- the endpoint ------------------------------------------------------------------------


class ProtocolEndpoint:
    def __init__(
        self,
        *,
        settings: Settings,
        store: ThreadStore,
        files: FileStorage,
        workflows: WorkflowRegistry,
        sessions: SessionService,
        keys: KeyService,
        limiter: RateLimiter,
        attachments: AttachmentService,
        server: ThreadkitServer,
    ) -> None:
        self.settings = settings
        self.store = store
        self.files = files
        self.workflows = workflows
        self.sessions = sessions
        self.keys = keys
        self.limiter = limiter
        self.attachments = attachments
        self.server = server

    def base_url(self, request: Request) -> str:
        return self.settings.public_url or str(request.base_url).rstrip("/")

    async def context(self, request: Request) -> ChatContext:
        """Who calls, from the session secret or the API key and user header."""
        token = bearer_token(request)
        if not token:
            raise Unauthenticated(
                "You didn't provide a client secret. Send the session's client secret as "
                "'Authorization: Bearer <client_secret>'."
            )
        common = {
            "store": self.store,
            "files": self.files,
            "base_url": self.base_url(request),
        }
        if is_session_secret(token):
            session = await self.sessions.authenticate(token)
            await self.limiter.admit(session)
            workflow_id = session.workflow["id"]
            if workflow_id not in self.workflows:
                raise InvalidRequest(
                    f"The session's workflow '{workflow_id}' is no longer configured on this "
                    "server.",
                    code="workflow_unavailable",
                )
            return ChatContext(
                project=session.project,
                user_id=session.user,
                workflow=self.workflows[workflow_id],
                state_variables=dict(session.workflow.get("state_variables") or {}),
                configuration=session.configuration,
                session=session,
                **common,
            )
        key = await self.keys.authenticate(token)
        user = request.headers.get(USER_HEADER, "")
        if not user or len(user) > MAX_USER:
            raise InvalidRequest(
                "With a project API key, name the user in the 'X-ChatKit-User' header "
                f"(1 to {MAX_USER} characters).",
                param="X-ChatKit-User",
                code="missing_user",
            )
        workflow_id = request.headers.get(WORKFLOW_HEADER) or self.workflows.default
        if workflow_id is None or workflow_id not in self.workflows:
            raise InvalidRequest(
                f"Invalid 'X-ChatKit-Workflow': no workflow '{workflow_id}' is configured on "
                "this server.",
                param="X-ChatKit-Workflow",
                code="invalid_value",
            )
        return ChatContext(
            project=key.project,
            user_id=user,
            workflow=self.workflows[workflow_id],
            **common,
        )

    async def _thread(self, thread_id: str, context: ChatContext) -> ThreadMetadata:
        try:
            return await self.store.load_thread(thread_id, context)
        except NotFoundError:
            raise NotFound(f"No thread found with id '{thread_id}'.") from None

    async def _open_thread(self, thread_id: str, context: ChatContext) -> ThreadMetadata:
        thread = await self._thread(thread_id, context)
        status = thread.status
        if status.type != "active":
            reason = getattr(status, "reason", None)
            raise Conflict(
                f"The thread '{thread_id}' is {status.type}"
                + (f" ({reason})" if reason else "")
                + " and accepts no new input.",
                code=f"thread_{status.type}",
            )
        return thread

    async def _item(self, thread_id: str, item_id: str, context: ChatContext) -> Any:
        try:
            return await self.store.load_item(thread_id, item_id, context)
        except NotFoundError:
            raise NotFound(f"No item found with id '{item_id}' in thread '{thread_id}'.") from None

    async def check(self, req: Any, context: ChatContext) -> None:
        """Everything a request can be refused for, before anything is stored or streamed."""
        workflow = context.workflow
        if isinstance(req, ThreadsCreateReq):
            for attachment_id in req.params.input.attachments:
                await self.attachments.check_ready(context.project, context.user_id, attachment_id)
        elif isinstance(req, ThreadsAddUserMessageReq):
            await self._open_thread(req.params.thread_id, context)
            for attachment_id in req.params.input.attachments:
                await self.attachments.check_ready(context.project, context.user_id, attachment_id)
        elif isinstance(req, ThreadsAddClientToolOutputReq):
            await self._open_thread(req.params.thread_id, context)
            last = await self.store.load_thread_items(
                req.params.thread_id, None, 1, "desc", context
            )
            if not (
                last.data
                and isinstance(last.data[0], ClientToolCallItem)
                and last.data[0].status == "pending"
            ):
                raise InvalidRequest(
                    f"The thread '{req.params.thread_id}' has no pending client tool call.",
                    code="no_pending_tool_call",
                )
        elif isinstance(req, ThreadsAddStructuredInputReq):
            await self._open_thread(req.params.thread_id, context)
            item = await self._item(req.params.thread_id, req.params.item_id, context)
            if not isinstance(item, StructuredInputItem) or item.status != "pending":
                raise InvalidRequest(
                    f"The item '{req.params.item_id}' is not a pending structured input.",
                    param="params.item_id",
                    code="invalid_value",
                )
        elif isinstance(req, ThreadsRetryAfterItemReq):
            await self._open_thread(req.params.thread_id, context)
            item = await self._item(req.params.thread_id, req.params.item_id, context)
            if not isinstance(item, UserMessageItem):
                raise InvalidRequest(
                    f"The item '{req.params.item_id}' is not a user message.",
                    param="params.item_id",
                    code="invalid_value",
                )
        elif isinstance(req, ThreadsCustomActionReq | ThreadsSyncCustomActionReq):
            streaming = isinstance(req, ThreadsCustomActionReq)
            if streaming:
                await self._open_thread(req.params.thread_id, context)
            else:
                await self._thread(req.params.thread_id, context)
            if not (workflow.supports_actions if streaming else workflow.supports_sync_actions):
                raise InvalidRequest(
                    f"{req.type} is not supported by this workflow ('{workflow.id}').",
                    param="type",
                    code="unsupported",
                )
            if req.params.item_id:
                item = await self._item(req.params.thread_id, req.params.item_id, context)
                if not isinstance(item, WidgetItem):
                    raise InvalidRequest(
                        f"The item '{req.params.item_id}' is not a widget.",
                        param="params.item_id",
                        code="invalid_value",
                    )
        elif isinstance(req, ItemsListReq):
            await self._thread(req.params.thread_id, context)
        elif isinstance(req, ThreadsUpdateReq):
            await self._thread(req.params.thread_id, context)
            if "\x00" in req.params.title:  # no backend may store what another refuses
                raise InvalidRequest(
                    "Invalid 'params.title': the string contains a NUL character.",
                    param="params.title",
                    code="invalid_value",
                )
        elif isinstance(req, InputTranscribeReq):
            if not workflow.supports_transcription:
                raise InvalidRequest(
                    "Speech transcription (input.transcribe) is not supported by this "
                    f"workflow ('{workflow.id}').",
                    param="type",
                    code="unsupported",
                )
            try:
                base64.b64decode(req.params.audio_base64, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequest(
                    "Invalid 'params.audio_base64': not valid base64.",
                    param="params.audio_base64",
                    code="invalid_value",
                ) from None

    async def handle(self, request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            raise PayloadTooLarge(
                f"The request body is too large: the limit is {self.settings.max_body_bytes} "
                "bytes.",
                code="request_too_large",
            )
        context = await self.context(request)
        request.scope["state"]["project"] = context.project  # for the access line
        body = await read_body(request, self.settings.max_body_bytes)
        req = parse_request(body)
        context.metadata = dict(req.metadata)
        await self.check(req, context)

        if isinstance(req, ThreadsListReq) and (
            not context.history["enabled"] or context.history["recent_threads"] is not None
        ):
            return Response(
                await self._mapped(self.server.list_recent_threads(req.params, context)),
                media_type="application/json",
            )
        doomed: list[str] = []
        if isinstance(req, ThreadsDeleteReq):
            await self._thread(req.params.thread_id, context)
            doomed = await self.store.list_thread_attachments(context.project, req.params.thread_id)

        result = await self._mapped(self.server.process(body, context))
        if isinstance(result, StreamingResult):
            return EventStream(_guarded(result))
        assert isinstance(result, NonStreamingResult)
        if doomed:
            await self.attachments.delete_files(context.project, doomed)
        return Response(result.json, media_type="application/json")

    @staticmethod
    async def _mapped(work: Any) -> Any:
        """Await ``work``, turning the chatkit package's exceptions into HTTP errors."""
        try:
            return await work
        except NotFoundError as exc:
            raise NotFound(str(exc) or "Not found.") from None
        except Unsupported as exc:
            raise InvalidRequest(str(exc), code="unsupported") from None
        except NotImplementedError as exc:
            raise InvalidRequest(
                str(exc) or "This request is not supported by this workflow.",
                code="unsupported",
            ) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidRequest(
                f"Invalid request: {first['msg']}.", code="invalid_value"
            ) from None


def routes(endpoint: ProtocolEndpoint) -> list[Route]:
    return [route("/chatkit", endpoint.handle, methods=["POST"])]
