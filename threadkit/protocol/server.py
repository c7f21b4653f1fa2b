"""threadkit's ``ChatKitServer``: every turn is answered by the session's workflow.

On top of what ``chatkit.server.ChatKitServer`` does (framing, persistence of
streamed items, saving the partial answer when the client goes away), this adds
feedback storage, automatic thread titles, the session's history settings for
``threads.list`` and the removal of a deleted thread's attachment bytes. ``answer``
takes the request already validated (``protocol.requests``) and checked
(``protocol.preconditions``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    Action,
    AudioInput,
    ChatKitReq,
    FeedbackKind,
    Page,
    SyncCustomActionResponse,
    ThreadListParams,
    ThreadMetadata,
    ThreadsDeleteReq,
    ThreadsListReq,
    ThreadStreamEvent,
    TranscriptionResult,
    UserMessageItem,
    WidgetItem,
)
from pydantic import ValidationError

from threadkit import metrics
from threadkit.services.attachments import AttachmentService
from threadkit.services.chat_threads import ChatThreads
from threadkit.services.errors import InvalidRequest, NotFound, ServiceError
from threadkit.services.feedback import FeedbackService
from threadkit.stores import ThreadStore
from threadkit.workflows import ChatContext, Unsupported
from threadkit.workflows.echo import message_text

from . import chatkit_adapter
from .attachments import ProtocolAttachmentStore

_log = logging.getLogger("threadkit.workflows")

TITLE_LENGTH = 60
DEFAULT_PAGE = 20


def title_from(message: UserMessageItem) -> str | None:
    """A thread title from its first message: the text on one line, cut at a word
    boundary near ``TITLE_LENGTH`` characters."""
    text = " ".join(message_text(message).replace("\x00", " ").split())
    if not text:
        return None
    if len(text) <= TITLE_LENGTH:
        return text
    cut = text[:TITLE_LENGTH].rsplit(" ", 1)[0] or text[:TITLE_LENGTH]
    return cut.rstrip(" ,.;:!?") + "…"


def _history_limited(context: ChatContext) -> bool:
    history = context.history
    return not history["enabled"] or history["recent_threads"] is not None


def _service_error(exc: Exception) -> ServiceError:
    """What the chatkit package and workflows raise, as the HTTP layer's errors."""
    if isinstance(exc, NotFoundError):
        return NotFound(str(exc) or "Not found.")
    if isinstance(exc, Unsupported):
        return InvalidRequest(str(exc), code="unsupported")
    if isinstance(exc, NotImplementedError):
        return InvalidRequest(
            str(exc) or "This request is not supported by this workflow.", code="unsupported"
        )
    assert isinstance(exc, ValidationError)
    return InvalidRequest(f"Invalid request: {exc.errors()[0]['msg']}.", code="invalid_value")


class ThreadkitServer(ChatKitServer[ChatContext]):
    def __init__(
        self,
        store: ThreadStore,
        threads: ChatThreads,
        attachments: AttachmentService,
        feedback: FeedbackService,
    ) -> None:
        super().__init__(store, ProtocolAttachmentStore(attachments))
        self.threads = threads
        self.attachments = attachments
        self.feedback = feedback

    async def answer(
        self, req: ChatKitReq, context: ChatContext
    ) -> StreamingResult | NonStreamingResult:
        """The answer to a request that passed its preconditions: a stream of SSE frames
        or a JSON body. What the chatkit package raises comes out as a ``ServiceError``."""
        doomed: list[str] = []
        try:
            if isinstance(req, ThreadsListReq) and _history_limited(context):
                return NonStreamingResult(await self.list_recent_threads(req.params, context))
            if isinstance(req, ThreadsDeleteReq):
                doomed = await self.attachments.of_thread(context.project, req.params.thread_id)
            result = await chatkit_adapter.process(self, req, context)
        except (NotFoundError, Unsupported, NotImplementedError, ValidationError) as exc:
            raise _service_error(exc) from None
        if doomed:
            # After the rows: a failure here leaves stray bytes, never dangling records.
            await self.attachments.delete_files(context.project, doomed)
        return result

    def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        return self._respond(thread, input_user_message, context)

    async def _respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message is not None and context.titling_enabled and not thread.title:
            # ChatKitServer saves the changed thread and sends thread.updated.
            thread.title = title_from(input_user_message)
        try:
            async for event in context.workflow.respond(thread, input_user_message, context):
                yield event
        except Exception:
            # ChatKitServer turns the failure into an error event; counted and logged
            # here, where the workflow and the thread are known.
            metrics.WORKFLOW_ERRORS.labels(context.workflow.id).inc()
            _log.exception(
                "workflow %s failed in thread %s",
                context.workflow.id,
                thread.id,
                extra={"workflow": context.workflow.id, "thread_id": thread.id},
            )
            raise

    def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        return context.workflow.action(thread, action, sender, context)

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: ChatContext,
    ) -> SyncCustomActionResponse:
        return await context.workflow.sync_action(thread, action, sender, context)

    async def transcribe(
        self, audio_input: AudioInput, context: ChatContext
    ) -> TranscriptionResult:
        return await context.workflow.transcribe(audio_input, context)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: ChatContext
    ) -> None:
        await self.feedback.record(context.project, context.user_id, thread_id, item_ids, feedback)

    async def list_recent_threads(self, params: ThreadListParams, context: ChatContext) -> bytes:
        """``threads.list`` under the session's ``history`` settings: nothing when history
        is off, only the ``recent_threads`` newest threads when that is set."""
        history = context.history
        if not history["enabled"]:
            return chatkit_adapter.serialize(self, Page(data=[], has_more=False))
        threads = await self.threads.newest(context, history["recent_threads"])
        if params.order == "asc":
            threads.reverse()
        start = 0
        if params.after is not None:
            positions = [t.id for t in threads]
            if params.after not in positions:
                raise NotFoundError(f"Thread {params.after} not found")
            start = positions.index(params.after) + 1
        limit = params.limit or DEFAULT_PAGE
        chunk = threads[start : start + limit]
        return chatkit_adapter.serialize(
            self,
            Page(
                data=[chatkit_adapter.thread_response(self, t) for t in chunk],
                has_more=start + limit < len(threads),
                after=chunk[-1].id if chunk else None,
            ),
        )
