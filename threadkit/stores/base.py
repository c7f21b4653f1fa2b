"""The row-level interface every backend implements.

These are the queries the REST API and the operators' tools need, scoped by
project but not by user: keyset pages in both directions, user filters, cascade
delete, bulk import, sessions, API keys, what ``threadkit sync`` keeps between runs.
``chatkit_store.ThreadStore`` builds the ``chatkit.store.Store`` methods on them, once,
so every backend behaves the same.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import AsyncIterator, Hashable, Sequence
from typing import Self

import orjson

from .context import DEFAULT_PROJECT
from .maintenance import MaintenanceRows
from .records import (
    FeedbackRow,
    ItemRow,
    ItemText,
    KeyRow,
    PageQuery,
    RowPage,
    SearchQuery,
    SessionRow,
    SyncBatch,
    ThreadItemsPage,
    ThreadRow,
    ThreadsText,
    ThreadText,
    forward_only,
)
from .request_window import Grant
from .rows import thread_text

#: seqs a call of ``index_search_backlog`` covers by default: a few tens of milliseconds
#: of the writer's time on SQLite, where live writes wait for it
SEARCH_CHUNK = 2_000


class BulkImport(abc.ABC):
    """The open side of ``ThreadStore.bulk_import``: rows go in batch by batch."""

    @abc.abstractmethod
    async def add(self, threads: Sequence[ThreadRow], items: Sequence[ItemRow]) -> None:
        """Add one batch; may raise ``DuplicateId`` for it or for an earlier batch."""


class _BufferedImport(BulkImport):
    def __init__(self) -> None:
        self.threads: list[ThreadRow] = []
        self.items: list[ItemRow] = []

    async def add(self, threads: Sequence[ThreadRow], items: Sequence[ItemRow]) -> None:
        self.threads.extend(threads)
        self.items.extend(items)


class RowStore(MaintenanceRows, abc.ABC):
    """The row-level interface every backend implements (see the module docstring);
    the maintenance steps are in ``maintenance``."""

    #: short name of the backend, e.g. ``"sqlite"``
    backend: str = ""

    #: the migrations this store has applied (``"0003_list_indexes"``), oldest first;
    #: empty when the schema was already current
    migrations_applied: tuple[str, ...] = ()

    #: the project of contexts that name none (see ``threadkit.stores.context``)
    project: str = DEFAULT_PROJECT

    # -- lifecycle --

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date now. Optional: the first call of any
        other method does the same. Raises ``StoreUsageError`` after ``close()``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The schema version recorded in the database (0 for an empty one)."""

    async def ping(self) -> None:
        """A cheap query that raises when the database does not answer (readiness)."""
        await self.schema_version()

    # -- threads (project-scoped) --

    @abc.abstractmethod
    async def get_thread(self, project: str, thread_id: str) -> ThreadRow | None: ...

    @abc.abstractmethod
    async def list_threads(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        """A keyset page of threads in (created_at, insertion) order.

        Raises ``CursorNotFound`` when ``after``/``before`` name no thread of the project
        (of the user, when ``user`` is given).
        """

    @abc.abstractmethod
    async def upsert_thread(self, project: str, row: ThreadRow) -> bool:
        """Insert the thread, or update title/status/extra if it exists for the same user.

        Returns ``False`` (and changes nothing) when the id belongs to another user.
        """

    @abc.abstractmethod
    async def delete_thread_row(self, project: str, thread_id: str) -> bool:
        """Delete the thread, its items, attachment records and feedback in one transaction."""

    async def create_thread(self, project: str, row: ThreadRow, items: Sequence[ItemRow]) -> None:
        """Store a new thread and its first items in one transaction, the items in the
        order given, searchable at once. Raises ``DuplicateId`` if an id is already taken
        in the project. (This default is ``import_rows``, searchable once indexed.)"""
        await self.import_rows(project, [row], items)

    @abc.abstractmethod
    async def replace_thread(self, project: str, row: ThreadRow) -> bool:
        """Set the title, status and extra of a stored thread of the same user, atomically.

        Returns ``False`` (and stores nothing) when the project holds no such thread:
        unlike ``upsert_thread``, a thread deleted meanwhile is not brought back.
        """

    @abc.abstractmethod
    async def search_threads(
        self, project: str, search: SearchQuery, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        """A keyset page, in the order of ``list_threads``, of the threads whose title, or
        one of whose user or assistant messages, holds every word of ``search``
        (case-insensitively; the last word as a prefix when ``search.prefix``). No words:
        an empty page.

        Raises ``CursorNotFound`` when ``after``/``before`` name no thread of the project
        (of the user, when ``user`` is given); the cursor need not match the search.
        """

    # -- reads that go straight to JSON (the protocol's ``threads.get_by_id``, ...) --

    async def read_thread_items(
        self, project: str, thread_id: str, page: PageQuery
    ) -> ThreadItemsPage | None:
        """The thread's stored columns and a keyset page of its items (hidden ones
        included, as ``list_items(..., rest_only=False)``), the items' shapes and JSON
        joined (``ThreadItemsPage``). ``None`` when the project holds no such thread;
        raises ``CursorNotFound`` when ``after``/``before`` name no item of it. The
        backends read both in one call and let the database join the items (on
        PostgreSQL one statement); this default makes two calls and joins them here."""
        thread = await self.get_thread(project, thread_id)
        if thread is None:
            return None
        found = await self.list_items(project, thread_id, page, rest_only=False)
        items: list[ItemText] = [(r.id, r.shape, r.payload) for r in found.rows]
        return ThreadItemsPage.of_rows(thread_text(thread), items, found.has_more)

    async def list_thread_texts(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadText]:
        """``list_threads``, each thread as its stored columns (``ThreadText``)."""
        found = await self.list_threads(project, page, user)
        return RowPage([thread_text(t) for t in found.rows], found.has_more)

    async def read_threads_text(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> ThreadsText:
        """The threads ``list_thread_texts`` reads for ``page``, with the one past its
        end, as one JSON text (``ThreadsText``). ``page`` has no ``before`` (a page
        read backwards is ``list_thread_texts``'s). The backends let the database
        write the text; this default asks ``list_thread_texts`` for one more thread."""
        forward_only(page)
        more = PageQuery(limit=page.limit + 1, order=page.order, after=page.after)
        found = await self.list_thread_texts(project, more, user)
        return ThreadsText(len(found.rows), ",".join(orjson.dumps(t).decode() for t in found.rows))

    # -- items (project-scoped) --

    @abc.abstractmethod
    async def list_items(
        self, project: str, thread_id: str, page: PageQuery, *, rest_only: bool
    ) -> RowPage[ItemRow]:
        """A keyset page of a thread's items; ``rest_only`` skips hidden items."""

    @abc.abstractmethod
    async def get_item(self, project: str, thread_id: str, item_id: str) -> ItemRow | None: ...

    @abc.abstractmethod
    async def insert_item(self, project: str, row: ItemRow) -> None:
        """Append an item; raises ``DuplicateId`` if the id is taken in the project."""

    async def insert_owned_item(self, project: str, user: str, row: ItemRow) -> bool:
        """``insert_item`` if the row's thread exists and belongs to ``user``; returns
        whether it did. The backends check and insert in one write transaction (no read
        before it, no thread deleted in between); this default reads first."""
        thread = await self.get_thread(project, row.thread_id)
        if thread is None or thread.user != user:
            return False
        await self.insert_item(project, row)
        return True

    @abc.abstractmethod
    async def append_items(self, project: str, thread_id: str, items: Sequence[ItemRow]) -> bool:
        """Append items to a stored thread in one transaction, in the order given.

        Returns ``False`` (and stores nothing) when the project holds no such thread.
        Raises ``DuplicateId`` if an id is taken in the project.
        """

    @abc.abstractmethod
    async def upsert_item(self, project: str, row: ItemRow) -> None:
        """Replace an item's payload, keeping its place in the order; insert if new."""

    @abc.abstractmethod
    async def delete_item(self, project: str, thread_id: str, item_id: str) -> bool: ...

    # -- attachments metadata (project-scoped) --

    @abc.abstractmethod
    async def put_attachment(
        self, project: str, attachment_id: str, user: str, thread_id: str | None, payload: str
    ) -> None: ...

    @abc.abstractmethod
    async def get_attachment(self, project: str, attachment_id: str) -> tuple[str, str] | None:
        """``(user, payload)`` of an attachment record, or ``None``."""

    @abc.abstractmethod
    async def remove_attachment(self, project: str, attachment_id: str) -> bool: ...

    @abc.abstractmethod
    async def list_thread_attachments(self, project: str, thread_id: str) -> list[str]:
        """Ids of the attachment records that belong to a thread."""

    # -- sessions --

    @abc.abstractmethod
    async def create_session(self, row: SessionRow, secret_hash: str) -> None: ...

    @abc.abstractmethod
    async def get_session(self, project: str, session_id: str) -> SessionRow | None: ...

    @abc.abstractmethod
    async def find_session(self, secret_hash: str) -> SessionRow | None:
        """The session whose client secret has this hash (in any state), or ``None``."""

    @abc.abstractmethod
    async def cancel_session(self, project: str, session_id: str, at: int) -> bool:
        """Set ``cancelled_at = at`` if the session is neither cancelled nor expired at ``at``
        (``expires_at > at``). Returns whether it changed."""

    @abc.abstractmethod
    async def take_request_slots(
        self,
        project: str,
        session_id: str,
        now_ms: int,
        limit: int,
        window_ms: int,
        want: int = 1,
        give_back: tuple[int, int] | None = None,
    ) -> Grant:
        """Take up to ``want`` request slots of a session under a sliding-window limit,
        giving back unused ones taken earlier, atomically.

        Slots are counted per bucket (``request_window``): those of every bucket with a
        millisecond in ``(now_ms - window_ms, now_ms]`` count against ``limit``. First,
        with ``give_back = (bucket, n)``, up to ``n`` slots of that earlier bucket of the
        session are uncounted (its count and the total go down by ``n``, never below
        zero; nothing if the bucket has left the window). Then, with room left under
        ``limit``, ``request_window.grant_for(room, want)`` slots (at least 1, at most
        ``want``) are counted in the bucket of ``now_ms`` and returned as ``granted``;
        with none left nothing is counted (refused requests do not count) and
        ``granted`` is 0 with ``wait_ms`` the milliseconds until the oldest counted
        bucket leaves the window. ``want = 0`` only gives back (``Grant(0, 0)``).
        The windows of sessions idle for longer than the window may be purged, at most
        once per bucket and process (a bounded batch each time).
        """

    async def take_request_slot(
        self, project: str, session_id: str, now_ms: int, limit: int, window_ms: int
    ) -> int | None:
        """One slot (``take_request_slots`` with ``want = 1``): ``None`` when admitted,
        else the milliseconds until the oldest counted bucket leaves the window."""
        answer = await self.take_request_slots(project, session_id, now_ms, limit, window_ms)
        return None if answer.granted else answer.wait_ms

    @abc.abstractmethod
    async def reserve_upload(self, project: str, session_id: str, max_files: int | None) -> bool:
        """Count one more file uploaded in the session unless ``max_files`` are already
        counted (``None``: no limit), atomically. Returns whether it was counted."""

    # -- feedback --

    @abc.abstractmethod
    async def put_feedback(self, project: str, rows: Sequence[FeedbackRow]) -> None:
        """Store feedback; a row for the same (thread, item, user) replaces the earlier one
        (new ``kind``, ``created_at`` and a new place at the end of the order)."""

    @abc.abstractmethod
    async def list_feedback(
        self, project: str, *, user: str | None = None, after: int = 0, limit: int = 100
    ) -> list[FeedbackRow]:
        """Feedback of the project (of ``user`` when given) in ``seq`` order, ``seq > after``."""

    @abc.abstractmethod
    async def list_thread_feedback(self, project: str, thread_id: str) -> list[FeedbackRow]:
        """Every feedback on the thread's items, in ``seq`` order."""

    # -- bulk --

    @abc.abstractmethod
    async def import_rows(
        self, project: str, threads: Sequence[ThreadRow], items: Sequence[ItemRow]
    ) -> None:
        """Store threads and items in one transaction: all or nothing. Search finds them
        once ``index_search_backlog`` has indexed them, not at once.

        Items keep the given sequence order among equal timestamps. Raises
        ``DuplicateId`` if an id is already taken in the project.
        """

    @contextlib.asynccontextmanager
    async def bulk_import(self, project: str) -> AsyncIterator[BulkImport]:
        """``import_rows`` for rows that arrive in batches: all of them are stored in one
        transaction when the block ends, none if it ends with an exception.

        Batches behave as if concatenated in the order given. This default keeps them
        until the end; a store may store each while the caller prepares the next (the
        SQLite store does), committing only at the end.
        """
        buffered = _BufferedImport()
        yield buffered
        await self.import_rows(project, buffered.threads, buffered.items)

    @abc.abstractmethod
    async def index_search_backlog(self, limit: int = SEARCH_CHUNK) -> int:
        """Add to the search index some of the rows ``import_rows`` and ``bulk_import``
        left for later, in one transaction: those of up to ``limit`` ``seq`` values.
        Returns how many it covered; ``0`` when none are left. Safe to call from many
        processes at once. Every server calls it in the background
        (``threadkit.services.search_index``); a library user importing without a
        server calls it until it returns ``0`` for imported rows to be searchable."""

    @abc.abstractmethod
    async def search_backlog(self) -> int:
        """How many rows wait for ``index_search_backlog`` (an upper bound: rows deleted
        since the import are counted until their range is worked off)."""

    # -- sync state (``threadkit sync``) --

    @abc.abstractmethod
    async def sync_cursors(self, project: str, thread_ids: Sequence[str]) -> dict[str, str]:
        """The id of the newest source item copied into each of these threads, for the
        threads that have one."""

    @abc.abstractmethod
    async def apply_sync(self, project: str, batch: SyncBatch) -> None:
        """Store one step of a sync in one transaction, all or nothing: the thread
        inserted or updated as by ``upsert_thread`` (``DuplicateId`` when the id is another
        user's thread), the items appended in the order given (``DuplicateId`` when an id
        is taken), and the thread's cursor set when given."""

    @abc.abstractmethod
    async def sync_resume_point(self, project: str, source: str, user: str | None) -> str | None:
        """Where an unfinished sync run from ``source`` (of ``user``'s threads, or of all
        when ``None``) stopped: the last thread it finished, in the source's oldest-first
        order. ``None`` when no such run is unfinished."""

    @abc.abstractmethod
    async def set_sync_resume_point(
        self, project: str, source: str, user: str | None, thread_id: str | None
    ) -> None:
        """Record ``sync_resume_point``; ``None`` records that the run finished."""

    # -- API keys --

    @abc.abstractmethod
    async def create_key(self, row: KeyRow, secret_hash: str) -> None: ...

    @abc.abstractmethod
    async def find_key(self, secret_hash: str) -> KeyRow | None:
        """The key with this secret hash (revoked or not), or ``None``."""

    @abc.abstractmethod
    async def list_keys(self, project: str | None = None) -> list[KeyRow]: ...

    @abc.abstractmethod
    async def revoke_key(self, key_id: str, revoked_at: int) -> bool: ...

    def keys_version(self) -> Hashable | None:
        """A value that differs once any change to API keys is committed, by any process,
        or ``None`` when the backend cannot tell cheaply. Reading it costs no query: the
        key service trusts a cached lookup only while this stays the same."""
        return None
