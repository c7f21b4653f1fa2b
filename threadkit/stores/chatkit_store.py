"""``ThreadStore``: the ``chatkit.store.Store`` methods, built once on the row interface.

Anyone writing their own ``ChatKitServer`` can hand it a threadkit store directly.
The request context is any object with a ``user_id`` attribute; an optional
``project`` attribute scopes it (see ``context``), and an optional ``checked_threads``
dictionary (thread id to ``ThreadMetadata``) hands ``load_thread`` a thread the same
request has just read, once. Threads are isolated per user:
another user's thread is "not found", and its items are an empty page.
"""

from __future__ import annotations

from typing import Any

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter

from threadkit import ids

from .base import RowStore
from .context import project_of, user_of
from .errors import CursorNotFound
from .records import (
    PageQuery,
    ThreadRow,
    item_row_from_protocol,
    thread_row_from_metadata,
    thread_row_to_metadata,
)

_ATTACHMENT: TypeAdapter[Any] = TypeAdapter(Attachment)


def _page(limit: int, order: str, after: str | None) -> PageQuery:
    return PageQuery(limit=limit, order="asc" if order == "asc" else "desc", after=after)


class ThreadStore(RowStore, Store[Any]):
    """Base class of threadkit's stores: the row interface plus ``chatkit.store.Store``.

    Ids follow the hosted API (``cthr_…``, ``cthi_…``; attachments ``cfile_…``); override the
    ``generate_*_id`` methods for others.
    """

    def generate_thread_id(self, context: Any) -> str:
        return ids.new_thread_id()

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: Any
    ) -> str:
        return ids.new_item_id()

    def generate_attachment_id(self, mime_type: str, context: Any) -> str:
        return ids.new_attachment_id()

    def _project(self, context: Any) -> str:
        return project_of(context, self.project)

    async def _owned_thread(self, thread_id: str, context: Any) -> ThreadRow | None:
        row = await self.get_thread(self._project(context), thread_id)
        return row if row is not None and row.user == user_of(context) else None

    async def _require_thread(self, thread_id: str, context: Any) -> ThreadRow:
        row = await self._owned_thread(thread_id, context)
        if row is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return row

    async def load_thread(self, thread_id: str, context: Any) -> ThreadMetadata:
        # A context may hand over the thread its request has just loaded, once.
        checked = getattr(context, "checked_threads", None)
        if checked and (thread := checked.pop(thread_id, None)) is not None:
            return thread
        return thread_row_to_metadata(await self._require_thread(thread_id, context))

    async def save_thread(self, thread: ThreadMetadata, context: Any) -> None:
        row = thread_row_from_metadata(thread, user_of(context))
        if not await self.upsert_thread(self._project(context), row):
            raise NotFoundError(f"Thread {thread.id} not found")

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Any
    ) -> Page[ThreadItem]:
        if await self._owned_thread(thread_id, context) is None:
            return Page(data=[], has_more=False, after=None)
        try:
            page = await self.list_items(
                self._project(context), thread_id, _page(limit, order, after), rest_only=False
            )
        except CursorNotFound as exc:
            raise NotFoundError(f"Item {exc.value} not found in thread {thread_id}") from exc
        data = [row.to_protocol() for row in page.rows]
        return Page(data=data, has_more=page.has_more, after=_next(data, page.has_more))

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Any
    ) -> Page[ThreadMetadata]:
        try:
            page = await self.list_threads(
                self._project(context), _page(limit, order, after), user=user_of(context)
            )
        except CursorNotFound as exc:
            raise NotFoundError(f"Thread {exc.value} not found") from exc
        data = [thread_row_to_metadata(row) for row in page.rows]
        return Page(data=data, has_more=page.has_more, after=_next(data, page.has_more))

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        await self._require_thread(thread_id, context)
        await self.delete_thread_row(self._project(context), thread_id)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        row = item_row_from_protocol(item, thread_id)
        if not await self.insert_owned_item(self._project(context), user_of(context), row):
            raise NotFoundError(f"Thread {thread_id} not found")

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await self._require_thread(thread_id, context)
        await self.upsert_item(self._project(context), item_row_from_protocol(item, thread_id))

    async def load_item(self, thread_id: str, item_id: str, context: Any) -> ThreadItem:
        await self._require_thread(thread_id, context)
        row = await self.get_item(self._project(context), thread_id, item_id)
        if row is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return row.to_protocol()

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
        await self._require_thread(thread_id, context)
        await self.delete_item(self._project(context), thread_id, item_id)

    async def save_attachment(self, attachment: Attachment, context: Any) -> None:
        await self.put_attachment(
            self._project(context),
            attachment.id,
            user_of(context),
            attachment.thread_id,
            attachment.model_dump_json(),
        )

    async def load_attachment(self, attachment_id: str, context: Any) -> Attachment:
        found = await self.get_attachment(self._project(context), attachment_id)
        if found is None or found[0] != user_of(context):
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return _ATTACHMENT.validate_json(found[1])

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        """Deletes the user's attachment record; one the store does not hold, or holds
        for another user, is left alone without an error (as deleting what is gone)."""
        project = self._project(context)
        found = await self.get_attachment(project, attachment_id)
        if found is not None and found[0] == user_of(context):
            await self.remove_attachment(project, attachment_id)


def _next(data: list[Any], has_more: bool) -> str | None:
    """The cursor of the next page: the last id while more follow, else ``None``."""
    return data[-1].id if has_more and data else None
