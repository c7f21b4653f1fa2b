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

from typing import Any, get_args

import orjson
from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    ChatKitReq,
    ThreadsDeleteReq,
    ThreadsListReq,
)
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadkit.config import Settings
from threadkit.protocol.preconditions import Preconditions
from threadkit.protocol.server import ThreadkitServer
from threadkit.services.attachments import AttachmentService
from threadkit.services.errors import (
    InvalidRequest,
    NotFound,
)
from threadkit.workflows import Unsupported

from .auth import ProtocolAuthenticator
from .body import read_body, refuse_declared_too_large
from .routing import route
from .sse import EventStream, guarded

_REQUEST: TypeAdapter[Any] = TypeAdapter(ChatKitReq)
REQUEST_TYPES: tuple[str, ...] = tuple(
    cls.model_fields["type"].default for cls in get_args(get_args(ChatKitReq)[0])
)


# --- the request ---------------------------------------------------------------------------


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


# --- the endpoint ------------------------------------------------------------------------


class ProtocolEndpoint:
    def __init__(
        self,
        *,
        settings: Settings,
        authenticator: ProtocolAuthenticator,
        preconditions: Preconditions,
        attachments: AttachmentService,
        server: ThreadkitServer,
    ) -> None:
        self.settings = settings
        self.preconditions = preconditions
        self.authenticator = authenticator
        self.attachments = attachments
        self.server = server

    async def handle(self, request: Request) -> Response:
        refuse_declared_too_large(request, self.settings.max_body_bytes)
        context = await self.authenticator.caller(request)
        body = await read_body(request, self.settings.max_body_bytes)
        req = parse_request(body)
        context.metadata = dict(req.metadata)
        await self.preconditions.check(req, context)

        if isinstance(req, ThreadsListReq) and (
            not context.history["enabled"] or context.history["recent_threads"] is not None
        ):
            return Response(
                await self._mapped(self.server.list_recent_threads(req.params, context)),
                media_type="application/json",
            )
        doomed: list[str] = []
        if isinstance(req, ThreadsDeleteReq):
            doomed = await self.attachments.of_thread(context.project, req.params.thread_id)

        result = await self._mapped(self.server.process(body, context))
        if isinstance(result, StreamingResult):
            return EventStream(guarded(result))
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
