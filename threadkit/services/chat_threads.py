"""A caller's threads and items in the ChatKit protocol's shape: what the protocol
package reads besides what ``ChatKitServer`` reads itself (the checks before a request,
the newest threads for a history-limited ``threads.list``). Another user's thread is as
missing as one that never was."""

from __future__ import annotations

from typing import Protocol

from chatkit.store import NotFoundError
from chatkit.types import ThreadItem, ThreadMetadata

from threadkit.stores import ThreadStore

from .errors import NotFound
from .threads import thread_not_found


class Caller(Protocol):
    """Who asks: any object with these attributes (a ``ChatContext`` is one)."""

    project: str
    user_id: str


class ChatThreads:
    def __init__(self, store: ThreadStore) -> None:
        self.store = store

    async def thread(self, thread_id: str, caller: Caller) -> ThreadMetadata:
        """The caller's thread, or ``NotFound``."""
        try:
            return await self.store.load_thread(thread_id, caller)
        except NotFoundError:
            raise thread_not_found(thread_id) from None

    async def item(self, thread_id: str, item_id: str, caller: Caller) -> ThreadItem:
        """An item of the caller's thread, or ``NotFound`` naming the item."""
        try:
            return await self.store.load_item(thread_id, item_id, caller)
        except NotFoundError:
            raise NotFound(f"No item found with id '{item_id}' in thread '{thread_id}'.") from None

    async def newest(self, caller: Caller, count: int) -> list[ThreadMetadata]:
        """The caller's ``count`` newest threads, newest first."""
        threads: list[ThreadMetadata] = []
        after: str | None = None
        while len(threads) < count:
            page = await self.store.load_threads(
                min(100, count - len(threads)), after, "desc", caller
            )
            threads.extend(page.data)
            if not page.has_more or page.after is None:
                break
            after = page.after
        return threads

    async def last_item(self, thread_id: str, caller: Caller) -> ThreadItem | None:
        """The newest item of the caller's thread (hidden ones included), ``None`` for an
        empty thread, ``NotFound`` for a missing one."""
        try:
            page = await self.store.load_thread_items(thread_id, None, 1, "desc", caller)
        except NotFoundError:
            raise thread_not_found(thread_id) from None
        return page.data[0] if page.data else None
