"""The SQLite store: the embedded default.

Durability: WAL journal with ``synchronous=FULL``, so an acknowledged write
survives a power cut, not only a crash of the process. How reads and writes reach
the file: ``connections``; bulk imports: ``importer``; pages: ``paging``; sync
state: ``sync_state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from threadkit.stores.base import SEARCH_CHUNK, BulkImport
from threadkit.stores.chatkit_store import ThreadStore
from threadkit.stores.context import DEFAULT_PROJECT
from threadkit.stores.errors import DuplicateId
from threadkit.stores.records import (
    FeedbackRow,
    ItemRow,
    Order,
    PageQuery,
    RowPage,
    SearchQuery,
    SyncBatch,
    ThreadItemsPage,
    ThreadRow,
    ThreadsText,
    ThreadText,
    forward_only,
)
from threadkit.stores.rows import (
    FEEDBACK_COLUMNS,
    ITEM_COLUMNS,
    ITEM_TEXT_COLUMNS,
    THREAD_COLUMNS,
    dump_json,
    feedback_row,
    item_params,
    item_row,
    items_params,
    thread_params,
    thread_row,
)

from . import importer, paging, search_backlog, sync_state
from .access import AccessQueries
from .bulk import insert_unique
from .connections import DEFAULT_CACHE_MIB, QUIET_SECONDS, Database
from .maintenance import MaintenanceQueries
from .migrate import migrate, schema_version
from .search import search_page
from .windows import RequestWindows

#: a thread by its id, from the index that holds every column the answer needs
_GET_THREAD = (
    f"SELECT {THREAD_COLUMNS} FROM threads INDEXED BY threads_by_id_covering"
    " WHERE project = ? AND id = ?"
)


#: a page of items as ``ThreadItemsPage.of_joined`` takes it
_JOINED_ITEMS = (
    "count(*), group_concat(shape, ','), group_concat(payload, char(30)),"
    " group_concat(id, char(30))"
)
_ITEMS_OF_THREAD = "project = ? AND thread_id = ?"
#: a page of threads as ``ThreadsText`` holds it (JSON escapes every title)
_JOINED_THREADS = (
    "count(*), group_concat(json_array(id, user_id, created_us, title, status, extra), ',')"
)


@lru_cache(maxsize=2)
def _thread_and_first_page(order: Order) -> str:
    """A thread's columns and its first page as ``_JOINED_ITEMS`` in one row, none when
    the thread does not exist (its arguments: project, thread, limit + 1, project,
    thread). One statement is one read transaction, where two made two."""
    items = paging.joined(
        _JOINED_ITEMS, paging.first_page("items", ITEM_TEXT_COLUMNS, _ITEMS_OF_THREAD, order)
    )
    columns = ", ".join(f"t.{c.strip()}" for c in THREAD_COLUMNS.split(","))
    return (
        f"SELECT {columns}, a.* FROM ({items}) a, threads t INDEXED BY threads_by_id_covering"
        " WHERE t.project = ? AND t.id = ?"
    )


def _threads_scope(project: str, user: str | None) -> tuple[str, tuple[Any, ...]]:
    """The condition and arguments of a project's threads, or of one user's."""
    if user is None:
        return "project = ?", (project,)
    return "project = ? AND user_id = ?", (project, user)


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///path`` URL or of a plain path. An in-memory
    database is refused: several connections must see one database."""
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:") else url
    if url.startswith("sqlite:") and not url.startswith("sqlite:///"):
        raise ValueError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/file.db)")
    if not path or path == ":memory:":
        raise ValueError("threadkit needs a SQLite file, not an in-memory database")
    return path


class SQLiteStore(AccessQueries, MaintenanceQueries, ThreadStore):
    """Thread store on one SQLite file: ``SQLiteStore("chat.db")`` or
    ``SQLiteStore("sqlite:///path/to/chat.db")``.

    Usable at once: the first call creates the file and its schema, or upgrades an
    older one. ``project`` is the project of contexts that name none.
    """

    backend = "sqlite"

    def __init__(
        self,
        url: str | Path,
        *,
        project: str = DEFAULT_PROJECT,
        busy_timeout_ms: int = 10_000,
        cache_mib: int = DEFAULT_CACHE_MIB,
        quiet_seconds: float = QUIET_SECONDS,
    ) -> None:
        self.path = sqlite_path(str(url))
        self.url = f"sqlite:///{self.path}"
        self.project = project
        self.cache_mib = cache_mib
        self._db = Database(
            self.path,
            self._prepare,
            busy_timeout_ms=busy_timeout_ms,
            cache_mib=cache_mib,
            quiet_seconds=quiet_seconds,
        )
        self._windows = RequestWindows(self.path + "-windows", busy_timeout_ms=busy_timeout_ms)

    # -- lifecycle -----------------------------------------------------------------------

    def _prepare(self, conn: sqlite3.Connection) -> None:
        _, applied = migrate(conn)
        self.migrations_applied += tuple(applied)

    async def open(self) -> None:
        await self._db.write(self._db.conn)

    async def close(self) -> None:
        # In a thread: closing waits for the writer thread's last write.
        await asyncio.to_thread(self._db.close)
        self._windows.close()

    async def schema_version(self) -> int:
        return schema_version(self.path)

    async def ping(self) -> None:
        """Reads the file through a new connection: an open one would still answer from
        a file that was deleted or replaced."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        finally:
            conn.close()

    # -- threads -------------------------------------------------------------------------

    async def get_thread(self, project: str, thread_id: str) -> ThreadRow | None:
        return self.get_thread_sync(project, thread_id)

    def get_thread_sync(self, project: str, thread_id: str) -> ThreadRow | None:
        r = self._db.conn().execute(_GET_THREAD, (project, thread_id)).fetchone()
        return thread_row(r) if r is not None else None

    async def list_threads(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        return self.list_threads_sync(project, page, user)

    def list_threads_sync(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        rows, has_more = self._thread_page(project, page, user)
        return RowPage([thread_row(r) for r in rows], has_more)

    async def list_thread_texts(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadText]:
        rows, has_more = self._thread_page(project, page, user)
        return RowPage(rows, has_more)

    def _thread_page(
        self, project: str, page: PageQuery, user: str | None
    ) -> tuple[list[Any], bool]:
        scope, args = _threads_scope(project, user)
        return paging.page(self._db.conn(), "threads", THREAD_COLUMNS, scope, args, page)

    async def read_threads_text(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> ThreadsText:
        forward_only(page)
        scope, args = _threads_scope(project, user)
        (read, rows), _ = paging.joined_page(
            self._db.conn(), "threads", THREAD_COLUMNS, _JOINED_THREADS, scope, args, page
        )
        return ThreadsText(read, rows or "")

    async def read_thread_items(
        self, project: str, thread_id: str, page: PageQuery
    ) -> ThreadItemsPage | None:
        conn = self._db.conn()
        args = (project, thread_id)
        if page.after is None and page.before is None:  # most reads: one statement
            row = conn.execute(
                _thread_and_first_page(page.order), (*args, page.limit + 1, *args)
            ).fetchone()
            if row is None:
                return None
            thread, (read, *joined), backwards = row[:6], row[6:], False
        else:
            thread = conn.execute(_GET_THREAD, args).fetchone()
            if thread is None:
                return None
            (read, *joined), backwards = paging.joined_page(
                conn, "items", ITEM_TEXT_COLUMNS, _JOINED_ITEMS, _ITEMS_OF_THREAD, args, page
            )
        found = ThreadItemsPage.of_joined(thread, read, joined, page.limit, backwards)  # type: ignore[arg-type]
        if found is None:
            rows, has_more = paging.page(
                conn, "items", ITEM_TEXT_COLUMNS, _ITEMS_OF_THREAD, args, page
            )
            found = ThreadItemsPage.of_rows(thread, rows, has_more)  # type: ignore[arg-type]
        return found

    async def upsert_thread(self, project: str, row: ThreadRow) -> bool:
        return await self._db.transaction(_upsert_thread, project, row)

    async def create_thread(self, project: str, row: ThreadRow, items: Sequence[ItemRow]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            insert_unique(conn, "threads", [thread_params(project, row)])
            insert_unique(conn, "items", items_params(project, items))

        await self._db.transaction(run)

    async def replace_thread(self, project: str, row: ThreadRow) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "UPDATE threads SET title = ?, status = ?, extra = ?"
                    " WHERE project = ? AND id = ? AND user_id = ?",
                    (
                        row.title,
                        dump_json(row.status),
                        dump_json(row.extra),
                        project,
                        row.id,
                        row.user,
                    ),
                ).rowcount
            )

        return await self._db.transaction(run)

    async def search_threads(
        self, project: str, search: SearchQuery, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        rows, has_more = search_page(self._db.conn(), project, search, page, user)
        return RowPage([thread_row(r) for r in rows], has_more)

    async def delete_thread_row(self, project: str, thread_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            gone = conn.execute(
                "DELETE FROM threads WHERE project = ? AND id = ?", (project, thread_id)
            ).rowcount
            if not gone:
                return False
            conn.execute(
                "DELETE FROM items WHERE project = ? AND thread_id = ?", (project, thread_id)
            )
            conn.execute(
                "DELETE FROM attachments WHERE project = ? AND thread_id = ?",
                (project, thread_id),
            )
            conn.execute(
                "DELETE FROM feedback WHERE project = ? AND thread_id = ?", (project, thread_id)
            )
            return True

        return await self._db.transaction(run)

    # -- items ---------------------------------------------------------------------------

    async def list_items(
        self, project: str, thread_id: str, page: PageQuery, *, rest_only: bool
    ) -> RowPage[ItemRow]:
        return self.list_items_sync(project, thread_id, page, rest_only=rest_only)

    def list_items_sync(
        self, project: str, thread_id: str, page: PageQuery, *, rest_only: bool
    ) -> RowPage[ItemRow]:
        scope = _ITEMS_OF_THREAD + (" AND rest_type IS NOT NULL" if rest_only else "")
        rows, has_more = paging.page(
            self._db.conn(), "items", ITEM_COLUMNS, scope, (project, thread_id), page
        )
        return RowPage([item_row(r) for r in rows], has_more)

    async def get_item(self, project: str, thread_id: str, item_id: str) -> ItemRow | None:
        r = (
            self._db.conn()
            .execute(
                f"SELECT {ITEM_COLUMNS} FROM items WHERE project = ? AND id = ? AND thread_id = ?",
                (project, item_id, thread_id),
            )
            .fetchone()
        )
        return item_row(r) if r is not None else None

    async def insert_item(self, project: str, row: ItemRow) -> None:
        await self._db.transaction(insert_unique, "items", [item_params(project, row)])

    async def append_items(self, project: str, thread_id: str, items: Sequence[ItemRow]) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            found = conn.execute(
                "SELECT 1 FROM threads WHERE project = ? AND id = ?", (project, thread_id)
            ).fetchone()
            if found is None:
                return False
            insert_unique(conn, "items", items_params(project, items))
            return True

        return await self._db.transaction(run)

    async def insert_owned_item(self, project: str, user: str, row: ItemRow) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            owner = conn.execute(
                "SELECT user_id FROM threads WHERE project = ? AND id = ?", (project, row.thread_id)
            ).fetchone()
            if owner is None or owner[0] != user:
                return False
            insert_unique(conn, "items", [item_params(project, row)])
            return True

        return await self._db.transaction(run)

    async def upsert_item(self, project: str, row: ItemRow) -> None:
        def run(conn: sqlite3.Connection) -> None:
            updated = conn.execute(
                "UPDATE items SET shape = ?, rest_type = ?, payload = ?"
                " WHERE project = ? AND id = ? AND thread_id = ?",
                (row.shape, row.rest_type, row.payload, project, row.id, row.thread_id),
            ).rowcount
            if not updated:
                insert_unique(conn, "items", [item_params(project, row)])

        await self._db.transaction(run)

    async def delete_item(self, project: str, thread_id: str, item_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "DELETE FROM items WHERE project = ? AND id = ? AND thread_id = ?",
                    (project, item_id, thread_id),
                ).rowcount
            )

        return await self._db.transaction(run)

    # -- attachments ---------------------------------------------------------------------

    async def put_attachment(
        self, project: str, attachment_id: str, user: str, thread_id: str | None, payload: str
    ) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO attachments (project, id, user_id, thread_id, payload)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (project, id) DO UPDATE SET"
                " thread_id = excluded.thread_id, payload = excluded.payload"
                " WHERE attachments.user_id = excluded.user_id",
                (project, attachment_id, user, thread_id, payload),
            )

        await self._db.transaction(run)

    async def get_attachment(self, project: str, attachment_id: str) -> tuple[str, str] | None:
        r = (
            self._db.conn()
            .execute(
                "SELECT user_id, payload FROM attachments WHERE project = ? AND id = ?",
                (project, attachment_id),
            )
            .fetchone()
        )
        return (r[0], r[1]) if r is not None else None

    async def remove_attachment(self, project: str, attachment_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "DELETE FROM attachments WHERE project = ? AND id = ?", (project, attachment_id)
                ).rowcount
            )

        return await self._db.transaction(run)

    async def list_thread_attachments(self, project: str, thread_id: str) -> list[str]:
        rows = (
            self._db.conn()
            .execute(
                "SELECT id FROM attachments WHERE project = ? AND thread_id = ?",
                (project, thread_id),
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    # -- feedback ------------------------------------------------------------------------

    async def put_feedback(self, project: str, rows: Sequence[FeedbackRow]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for row in rows:
                conn.execute(
                    "DELETE FROM feedback"
                    " WHERE project = ? AND thread_id = ? AND item_id = ? AND user_id = ?",
                    (project, row.thread_id, row.item_id, row.user),
                )
                conn.execute(
                    "INSERT INTO feedback (project, thread_id, item_id, user_id, kind, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (project, row.thread_id, row.item_id, row.user, row.kind, row.created_at),
                )

        await self._db.transaction(run)

    async def list_feedback(
        self, project: str, *, user: str | None = None, after: int = 0, limit: int = 100
    ) -> list[FeedbackRow]:
        sql = f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE project = ? AND seq > ?"
        args: list[Any] = [project, after]
        if user is not None:
            sql += " AND user_id = ?"
            args.append(user)
        rows = self._db.conn().execute(sql + " ORDER BY seq LIMIT ?", (*args, limit)).fetchall()
        return [feedback_row(r) for r in rows]

    async def list_thread_feedback(self, project: str, thread_id: str) -> list[FeedbackRow]:
        rows = (
            self._db.conn()
            .execute(
                f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE project = ? AND thread_id = ?"
                " ORDER BY seq",
                (project, thread_id),
            )
            .fetchall()
        )
        return [feedback_row(r) for r in rows]

    # -- sync state ----------------------------------------------------------------------

    async def sync_cursors(self, project: str, thread_ids: Sequence[str]) -> dict[str, str]:
        return sync_state.cursors(self._db, project, thread_ids)

    async def apply_sync(self, project: str, batch: SyncBatch) -> None:
        def run(conn: sqlite3.Connection) -> None:
            if batch.thread is not None and not _upsert_thread(conn, project, batch.thread):
                raise DuplicateId("thread", batch.thread.id)
            insert_unique(conn, "items", items_params(project, batch.items))
            if batch.cursor is not None:
                sync_state.put_cursor(conn, project, batch.thread_id, batch.cursor)

        await self._db.transaction(run)

    async def sync_resume_point(self, project: str, source: str, user: str | None) -> str | None:
        return sync_state.resume_point(self._db, project, source, user)

    async def set_sync_resume_point(
        self, project: str, source: str, user: str | None, thread_id: str | None
    ) -> None:
        await self._db.transaction(sync_state.set_resume_point, project, source, user, thread_id)

    # -- bulk ----------------------------------------------------------------------------

    async def import_rows(
        self, project: str, threads: Sequence[ThreadRow], items: Sequence[ItemRow]
    ) -> None:
        async with self.bulk_import(project) as batches:
            await batches.add(threads, items)

    def bulk_import(self, project: str) -> contextlib.AbstractAsyncContextManager[BulkImport]:
        """Batches go to the writer as they come; from the second one on, a helper
        process inserts them (``importer``). All commit when the block ends."""
        return importer.bulk_import(self._db, project)

    async def index_search_backlog(self, limit: int = SEARCH_CHUNK) -> int:
        if not search_backlog.waiting(self._db.conn()):
            return 0  # a read: an idle server's look takes no write lock
        return await self._db.transaction(search_backlog.index_some, limit)

    async def search_backlog(self) -> int:
        return search_backlog.waiting(self._db.conn())


def _upsert_thread(conn: sqlite3.Connection, project: str, row: ThreadRow) -> bool:
    found = conn.execute(
        "SELECT user_id FROM threads WHERE project = ? AND id = ?", (project, row.id)
    ).fetchone()
    if found is None:
        insert_unique(conn, "threads", [thread_params(project, row)])
        return True
    if found[0] != row.user:
        return False
    conn.execute(
        "UPDATE threads SET title = ?, status = ?, extra = ? WHERE project = ? AND id = ?",
        (row.title, dump_json(row.status), dump_json(row.extra), project, row.id),
    )
    return True
