"""threadkit's ``ChatKitServer``: every turn is answered by the session's workflow.

On top of what ``chatkit.server.ChatKitServer`` does (framing, persistence of
streamed items, saving the partial answer when the client goes away), this adds
feedback storage, automatic thread titles, and the session's history settings
for ``threads.list``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from chatkit.logger import logger
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
    ThreadStreamEvent,
    TranscriptionResult,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)
from pydantic import TypeAdapter

from threadkit import metrics
from threadkit.services.attachments import AttachmentService
from threadkit.services.feedback import FeedbackService
from threadkit.stores.base import ThreadStore
from threadkit.workflows.echo import message_text

from .attachments import ProtocolAttachmentStore
from .context import ChatContext

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


_REQUEST: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)


class ThreadkitServer(ChatKitServer[ChatContext]):
    def __init__(
        self, store: ThreadStore, attachments: AttachmentService, feedback: FeedbackService
    ) -> None:
        super().__init__(store, ProtocolAttachmentStore(store, attachments))
        self.feedback = feedback

    async def process(
        self, request: str | bytes | bytearray, context: ChatContext
    ) -> StreamingResult | NonStreamingResult:
        """``ChatKitServer.process`` with the request validator built once: the package
        builds a ``TypeAdapter`` of the whole request union on every call, about 4 ms of
        CPU, which held ``threads.get_by_id`` to ~200 requests/s (docs/performance.md)."""
        parsed = _REQUEST.validate_json(request)
        logger.info(f"Received request op: {parsed.type}")
        if is_streaming_req(parsed):
            return StreamingResult(self._process_streaming(parsed, context))
        return NonStreamingResult(await self._process_non_streaming(parsed, context))

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
            return self._serialize(Page(data=[], has_more=False))
        recent: int = history["recent_threads"]
        threads: list[ThreadMetadata] = []
        after: str | None = None
        while len(threads) < recent:
            page = await self.store.load_threads(
                min(100, recent - len(threads)), after, "desc", context
            )
            threads.extend(page.data)
            if not page.has_more or page.after is None:
                break
            after = page.after
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
        return self._serialize(
            Page(
                data=[self._to_thread_response(t) for t in chunk],
                has_more=start + limit < len(threads),
                after=chunk[-1].id if chunk else None,
            )
        )
