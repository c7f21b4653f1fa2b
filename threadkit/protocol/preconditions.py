"""What a ChatKit protocol request can be refused for, checked before anything is stored
or streamed, so that every refusal is an HTTP error rather than an ``error`` event:

* a thread that is missing or another user's (``NotFound``, listing its items too), or
  locked or closed when the request adds input to it (``Conflict``);
* an item that is missing (``NotFound``) or not what the request needs: a pending
  client tool call, a pending structured input, a user message to retry after, a
  widget for an action (``InvalidRequest``);
* an attachment that is missing, another user's (``NotFound``) or not uploaded yet;
* something the workflow does not support, a title with a NUL character, audio that
  is not base64 (``InvalidRequest``).

Request types not named here carry nothing to check beforehand.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

from chatkit.types import (
    ChatKitReq,
    ClientToolCallItem,
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
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    UserMessageItem,
    WidgetItem,
)

from threadkit.services.attachments import AttachmentService
from threadkit.services.chat_threads import ChatThreads
from threadkit.services.errors import Conflict, InvalidRequest
from threadkit.workflows import ChatContext

_Check = Callable[[Any, ChatContext], Awaitable[None]]


class Preconditions:
    def __init__(self, threads: ChatThreads, attachments: AttachmentService) -> None:
        self.threads = threads
        self.attachments = attachments
        # One dictionary lookup per request instead of a chain of isinstance tests.
        self._checks: dict[type[Any], _Check] = {
            ThreadsCreateReq: self._create,
            ThreadsAddUserMessageReq: self._add_user_message,
            ThreadsAddClientToolOutputReq: self._add_client_tool_output,
            ThreadsAddStructuredInputReq: self._add_structured_input,
            ThreadsRetryAfterItemReq: self._retry_after_item,
            ThreadsCustomActionReq: self._custom_action,
            ThreadsSyncCustomActionReq: self._sync_custom_action,
            ThreadsUpdateReq: self._update,
            ThreadsDeleteReq: self._delete,
            ItemsListReq: self._list_items,
            InputTranscribeReq: self._transcribe,
        }

    async def check(self, req: ChatKitReq, context: ChatContext) -> None:
        """Refuse ``req`` with a ``ServiceError`` if it cannot be answered for ``context``."""
        check = self._checks.get(type(req))
        if check is not None:
            await check(req, context)

    # -- shared --

    async def _thread(self, thread_id: str, context: ChatContext) -> ThreadMetadata:
        """The caller's thread, handed on to the load that answering the request starts
        with (``ChatContext.checked_threads``)."""
        thread = await self.threads.thread(thread_id, context)
        context.checked_threads[thread_id] = thread
        return thread

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

    async def _attachments_ready(self, attachment_ids: list[str], context: ChatContext) -> None:
        for attachment_id in attachment_ids:
            await self.attachments.check_ready(context.project, context.user_id, attachment_id)

    async def _widget(self, thread_id: str, item_id: str | None, context: ChatContext) -> None:
        if item_id:
            item = await self.threads.item(thread_id, item_id, context)
            if not isinstance(item, WidgetItem):
                raise InvalidRequest(
                    f"The item '{item_id}' is not a widget.",
                    param="params.item_id",
                    code="invalid_value",
                )

    # -- by request type --

    async def _create(self, req: ThreadsCreateReq, context: ChatContext) -> None:
        await self._attachments_ready(req.params.input.attachments, context)

    async def _add_user_message(self, req: ThreadsAddUserMessageReq, context: ChatContext) -> None:
        await self._open_thread(req.params.thread_id, context)
        await self._attachments_ready(req.params.input.attachments, context)

    async def _add_client_tool_output(
        self, req: ThreadsAddClientToolOutputReq, context: ChatContext
    ) -> None:
        thread_id = req.params.thread_id
        await self._open_thread(thread_id, context)
        last = await self.threads.last_item(thread_id, context)
        if not (isinstance(last, ClientToolCallItem) and last.status == "pending"):
            raise InvalidRequest(
                f"The thread '{thread_id}' has no pending client tool call.",
                code="no_pending_tool_call",
            )

    async def _add_structured_input(
        self, req: ThreadsAddStructuredInputReq, context: ChatContext
    ) -> None:
        await self._open_thread(req.params.thread_id, context)
        item = await self.threads.item(req.params.thread_id, req.params.item_id, context)
        if not isinstance(item, StructuredInputItem) or item.status != "pending":
            raise InvalidRequest(
                f"The item '{req.params.item_id}' is not a pending structured input.",
                param="params.item_id",
                code="invalid_value",
            )

    async def _retry_after_item(self, req: ThreadsRetryAfterItemReq, context: ChatContext) -> None:
        await self._open_thread(req.params.thread_id, context)
        item = await self.threads.item(req.params.thread_id, req.params.item_id, context)
        if not isinstance(item, UserMessageItem):
            raise InvalidRequest(
                f"The item '{req.params.item_id}' is not a user message.",
                param="params.item_id",
                code="invalid_value",
            )

    async def _custom_action(self, req: ThreadsCustomActionReq, context: ChatContext) -> None:
        await self._open_thread(req.params.thread_id, context)
        _supported(req.type, context.workflow.supports_actions, context)
        await self._widget(req.params.thread_id, req.params.item_id, context)

    async def _sync_custom_action(
        self, req: ThreadsSyncCustomActionReq, context: ChatContext
    ) -> None:
        await self._thread(req.params.thread_id, context)
        _supported(req.type, context.workflow.supports_sync_actions, context)
        await self._widget(req.params.thread_id, req.params.item_id, context)

    async def _update(self, req: ThreadsUpdateReq, context: ChatContext) -> None:
        await self._thread(req.params.thread_id, context)
        if "\x00" in req.params.title:  # no backend may store what another refuses
            raise InvalidRequest(
                "Invalid 'params.title': the string contains a NUL character.",
                param="params.title",
                code="invalid_value",
            )

    async def _delete(self, req: ThreadsDeleteReq, context: ChatContext) -> None:
        await self.threads.thread(req.params.thread_id, context)

    async def _list_items(self, req: ItemsListReq, context: ChatContext) -> None:
        # The store answers another user's thread with an empty page (as openai-chatkit's
        # own store tests expect); the protocol answers it like a missing thread.
        await self.threads.thread(req.params.thread_id, context)

    async def _transcribe(self, req: InputTranscribeReq, context: ChatContext) -> None:
        workflow = context.workflow
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


def _supported(kind: str, supported: bool, context: ChatContext) -> None:
    if not supported:
        raise InvalidRequest(
            f"{kind} is not supported by this workflow ('{context.workflow.id}').",
            param="type",
            code="unsupported",
        )
