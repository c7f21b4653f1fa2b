"""``threadkit sync``: copy into a project the threads and items another ChatKit REST API
lists (OpenAI's hosted one, or another threadkit), keeping ids, times, order and every
field, so the copy serves the source's REST responses byte for byte.

Threads are read oldest first, so new ones are stored in the source's order (ties on
``created_at`` included), and each is compared with the stored one: a new title or
status updates it in place. Items are read oldest first after the thread's cursor
(``sync_threads``: the newest source item copied into it), so an unchanged thread costs
one request, and each page of new items is appended, with the cursor, in one
transaction (``ThreadStore.apply_sync``). A thread stored without a cursor (imported, or
whose cursor item is gone at the source) is read from its start, skipping the items it
already has. After each page of threads the run records how far it got
(``sync_runs``), so an interrupted run, resumed from any machine on the same database,
goes on from there; nothing is copied twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from threadkit import shapes
from threadkit.stores import ThreadStore
from threadkit.stores.errors import DuplicateId
from threadkit.stores.records import ItemRow, SyncBatch, ThreadRow

from .import_parse import BadObject, row_of_object
from .sync_source import CursorUnknown, Source, SourcePage, SyncFailed

__all__ = ["Source", "SyncFailed", "SyncStats", "Syncer"]

#: first pages of items fetched ahead, while earlier threads are stored
DEFAULT_CONCURRENCY = 4


@dataclass(slots=True)
class SyncStats:
    """What a run did so far."""

    threads_seen: int = 0
    threads_new: int = 0
    threads_updated: int = 0
    #: listed, then deleted at the source before their items were read
    threads_gone: int = 0
    items_copied: int = 0
    #: the run went on from where an unfinished one stopped
    resumed: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def threads_unchanged(self) -> int:
        return self.threads_seen - self.threads_new - self.threads_updated - self.threads_gone

    @property
    def items_per_second(self) -> float:
        return self.items_copied / max(time.monotonic() - self.started, 1e-9)


@dataclass(frozen=True, slots=True)
class _Thread:
    row: ThreadRow  # as the source lists it
    stored: ThreadRow | None
    cursor: str | None  # of a stored thread only

    @property
    def changed(self) -> bool:
        """Whether the thread is to be stored: new, or its title or status changed (or
        its user, which the store refuses: the id is another user's thread here)."""
        if self.stored is None:
            return True
        old, new = self.stored, self.row
        return (old.user, old.title, shapes.status_to_rest(old.status)) != (
            new.user,
            new.title,
            shapes.status_to_rest(new.status),
        )


class Syncer:
    """One run of ``threadkit sync`` from ``source`` into ``project``."""

    def __init__(
        self,
        store: ThreadStore,
        project: str,
        source: Source,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: Callable[[SyncStats], None] | None = None,
    ) -> None:
        self.store = store
        self.project = project
        self.source = source
        self.progress = progress or (lambda _stats: None)
        self.stats = SyncStats()
        self._ahead = asyncio.Semaphore(concurrency)
        self._done: set[str] = set()  # threads this run has finished

    async def run(self) -> SyncStats:
        """Copy what is new or changed; raises ``SyncFailed`` (what was stored stays)."""
        run = (self.project, self.source.identity, self.source.user)
        after = await self.store.sync_resume_point(*run)
        self.stats.resumed = after is not None
        while True:
            try:
                page = await self.source.threads(after)
            except CursorUnknown:
                # The thread listed last is gone at the source: start over, past what
                # this run has done already.
                after, self.stats.resumed = None, False
                continue
            await self._threads([o for o in page.objects if o.get("id") not in self._done])
            if not page.has_more or page.last_id is None:
                break
            after = page.last_id
            await self.store.set_sync_resume_point(*run, after)
        await self.store.set_sync_resume_point(*run, None)
        return self.stats

    # -- threads -------------------------------------------------------------------------

    async def _threads(self, objects: list[dict[str, Any]]) -> None:
        rows = [_thread_row(o) for o in objects]
        cursors = await self.store.sync_cursors(self.project, [r.id for r in rows])
        threads = []
        for row in rows:
            stored = await self.store.get_thread(self.project, row.id)
            cursor = cursors.get(row.id) if stored is not None else None
            threads.append(_Thread(row, stored, cursor))
        # The first page of each thread's items is fetched ahead; all is stored in order.
        ahead = [asyncio.ensure_future(self._first_page(t)) for t in threads]
        try:
            for thread, first in zip(threads, ahead, strict=True):
                await self._thread(thread, *(await first))
        finally:
            for task in ahead:
                task.cancel()
            await asyncio.gather(*ahead, return_exceptions=True)

    async def _first_page(self, thread: _Thread) -> tuple[SourcePage | None, bool]:
        # A stored thread without a cursor may hold some of the source's items already.
        known = thread.stored is not None and thread.cursor is None
        async with self._ahead:
            return await self._items(thread.row.id, thread.cursor, known)

    async def _items(
        self, thread_id: str, after: str | None, known: bool
    ) -> tuple[SourcePage | None, bool]:
        """A page of items after ``after`` and whether its items may be stored already:
        from the start, skipping what is stored, when the source lost the cursor."""
        try:
            return await self.source.items(thread_id, after), known
        except CursorUnknown:
            return await self.source.items(thread_id, None), True

    async def _thread(self, thread: _Thread, page: SourcePage | None, known: bool) -> None:
        stats = self.stats
        stats.threads_seen += 1
        if page is None:
            stats.threads_gone += 1
            self._done.add(thread.row.id)
            self.progress(stats)
            return
        thread_id = thread.row.id
        pending: ThreadRow | None = None
        if thread.changed:  # protocol-only fields of a stored thread stay as they are
            extra = thread.stored.extra if thread.stored is not None else None
            pending = dataclasses.replace(thread.row, extra=extra)
        cursor, copied = thread.cursor, 0
        while page is not None:
            items = [_item_row(o, thread_id) for o in page.objects]
            if known:
                items = [i for i in items if not await self._stored(thread_id, i.id)]
            last = page.last_id or cursor
            if pending is not None or items or last != cursor:
                await self._apply(SyncBatch(thread_id, pending, items, last))
                pending, cursor = None, last
                copied += len(items)
                stats.items_copied += len(items)
                self.progress(stats)
            if not page.has_more or not page.objects:
                break
            page, known = await self._items(thread_id, cursor, known)
        if thread.stored is None:
            stats.threads_new += 1
        elif thread.changed or copied:
            stats.threads_updated += 1
        self._done.add(thread_id)
        self.progress(stats)

    async def _stored(self, thread_id: str, item_id: str) -> bool:
        return await self.store.get_item(self.project, thread_id, item_id) is not None

    async def _apply(self, batch: SyncBatch) -> None:
        try:
            await self.store.apply_sync(self.project, batch)
        except DuplicateId as exc:
            taken = "is another user's thread" if exc.kind == "thread" else "already exists"
            raise SyncFailed(
                f"thread '{batch.thread_id}': {exc.kind} id '{exc.value}' {taken}"
                f" in project '{self.project}'"
            ) from None


def _thread_row(data: dict[str, Any]) -> ThreadRow:
    row = _row(data, "thread")
    if not isinstance(row, ThreadRow):
        raise SyncFailed(f"the source listed a {data.get('object')!r} among its threads")
    return row


def _item_row(data: dict[str, Any], thread_id: str) -> ItemRow:
    row = _row(data, f"an item of thread '{thread_id}'")
    if not isinstance(row, ItemRow) or row.thread_id != thread_id:
        raise SyncFailed(
            f"the source listed {data.get('object')!r} '{data.get('id')}' of thread"
            f" {data.get('thread_id')!r} among the items of thread '{thread_id}'"
        )
    return row


def _row(data: dict[str, Any], what: str) -> ThreadRow | ItemRow:
    """The row of an object as an import checks it: what threadkit cannot serve is
    refused with the reason, before anything of its thread's step is stored."""
    try:
        return row_of_object(data)
    except BadObject as exc:
        raise SyncFailed(f"{what} '{data.get('id')}' cannot be stored: {exc}") from None
