"""The SQLite store: the embedded default.

Why blocking ``sqlite3`` and not an async driver: a primary-key lookup costs about
11 µs through ``sqlite3`` and about 130 µs through ``aiosqlite`` (which hops to a
thread per call). Every read here is a bounded, indexed query (at most 101 rows),
so reads run inline on the event loop, each thread with its own connection.
Writes can wait on the file lock (other processes) and on ``fsync``, so they run
on one dedicated writer thread and never block the loop.

Durability: WAL journal with ``synchronous=FULL``, so an acknowledged write
survives a power cut, not only a crash of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mmap
import multiprocessing
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from threadkit.stores import migrations
from threadkit.stores.base import (
    BulkImport,
    CursorNotFound,
    FeedbackRow,
    ItemRow,
    KeyRow,
    PageQuery,
    RowPage,
    SessionRow,
    StoreUnavailable,
    ThreadRow,
    ThreadStore,
)
from threadkit.stores.rows import (
    FEEDBACK_COLUMNS,
    ITEM_COLUMNS,
    KEY_COLUMNS,
    SESSION_COLUMNS,
    THREAD_COLUMNS,
    dump_json,
    feedback_row,
    item_row,
    key_row,
    session_row,
    thread_row,
)
from threadkit.stores.sqlite_bulk import IMPORT_CACHE_KIB, connect, insert_unique

R = TypeVar("R")

#: page cache of each reading connection, MiB (``THREADKIT_SQLITE_CACHE_MIB``), while the
#: database is quiet. SQLite's default (2 MiB) holds little of a large database, and each
#: page it misses is a read from the file: at 1,000,000 threads a first page of a user's
#: threads took 2.5-4x as long as at 1,000 (1.3-1.8x with this cache; docs/performance.md).
#: Pages are cached as they are read, so a small database uses little.
DEFAULT_CACHE_MIB = 256
#: page cache of each reading connection while the database changes: SQLite empties a
#: reader's cache whenever another connection commits, so a cache emptied every few
#: milliseconds holds little whatever its size, and a big one only grows the worker in
#: bursts when the writes pause (docs/performance.md, soak).
CHANGING_CACHE_MIB = 16
#: a reader goes back to its full cache once the database has not changed for this long
QUIET_SECONDS = 2.0
#: how often a reader looks whether the database changed (a read of shared memory)
LOOK_EVERY_SECONDS = 0.1
#: page cache of the writer's connection, MiB. Writes touch index pages all over (ids are
#: random), so a big cache there would only fill, never pay: with 1 % writes in a mixed
#: load it grew the worker by 200 MiB over four minutes. The readers' caches need not
#: make room for it: SQLite empties them anyway whenever another connection commits.
WRITER_CACHE_MIB = 16
# The helper's interpreter gets this process's sys.path (as multiprocessing's spawn
# would), so it imports the same threadkit however this one was started.
_HELPER = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]);"
    " from threadkit.stores.sqlite_bulk import main; main(sys.argv[2:])"
)


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///path`` URL (``sqlite:///:memory:`` is refused:
    several connections must see one database)."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/file.db)")
    path = url.removeprefix("sqlite:///")
    if not path or path == ":memory:":
        raise ValueError("threadkit needs a SQLite file, not an in-memory database")
    return path


class SQLiteStore(ThreadStore):
    """Thread store on one SQLite file. ``url`` is ``sqlite:///path/to/file.db``."""

    backend = "sqlite"

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 10_000,
        cache_mib: int | None = None,
        quiet_seconds: float = QUIET_SECONDS,
    ) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._busy_timeout_ms = busy_timeout_ms
        if cache_mib is None:
            cache_mib = int(os.environ.get("THREADKIT_SQLITE_CACHE_MIB", DEFAULT_CACHE_MIB))
        self.cache_mib = cache_mib
        self.quiet_seconds = quiet_seconds
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._wal_index: mmap.mmap | None = None
        self._wal_index_missing = False

    # -- connections ---------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            writer = getattr(local, "writer", False)
            cache_mib = min(self.cache_mib, WRITER_CACHE_MIB) if writer else self.cache_mib
            conn = connect(self.path, self._busy_timeout_ms, cache_mib * 1024)
            local.conn = conn
            with self._lock:
                self._connections.append(conn)
            local.reader = not writer
            local.cache_kib = cache_mib * 1024
            local.seen = None  # the WAL-index header at the last look
            local.changed_at = float("-inf")
            local.next_look = time.monotonic() + LOOK_EVERY_SECONDS
        elif local.reader and (now := time.monotonic()) >= local.next_look:
            self._fit_reader_cache(conn, now)
        return conn

    def _fit_reader_cache(self, conn: sqlite3.Connection, now: float) -> None:
        """The reader's full cache while the database is quiet, a small one while it
        changes (see ``CHANGING_CACHE_MIB``)."""
        local = self._local
        local.next_look = now + LOOK_EVERY_SECONDS
        seen = self._wal_header()
        if seen is None:
            return
        if local.seen is None:
            local.seen = seen
        elif seen != local.seen:
            local.seen, local.changed_at = seen, now
        mib = self.cache_mib
        if now - local.changed_at < self.quiet_seconds:
            mib = min(mib, CHANGING_CACHE_MIB)
        if mib * 1024 != local.cache_kib:
            conn.execute(f"PRAGMA cache_size = {-mib * 1024}")
            local.cache_kib = mib * 1024

    async def _write(self, fn: Callable[..., R], *args: Any) -> R:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(
                1, thread_name_prefix="threadkit-sqlite-writer", initializer=self._mark_writer
            )
        try:
            return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)
        except sqlite3.OperationalError as exc:
            if (unavailable := _unavailable(exc)) is None:
                raise
            raise unavailable from exc

    def _mark_writer(self) -> None:
        self._local.writer = True

    def _transaction(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    # -- lifecycle -----------------------------------------------------------------------

    def migrate_sync(self) -> int:
        """Apply pending migrations; returns the schema version. Safe across processes:
        ``BEGIN IMMEDIATE`` takes the write lock before the version is read."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        applied: list[str] = []

        def run(conn: sqlite3.Connection) -> int:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            version = current.fetchone()[0]
            for step in migrations.load("sqlite"):
                if step.version <= version:
                    continue
                for statement in _statements(step.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, CAST(strftime('%s') AS INTEGER))",
                    (step.version, step.name),
                )
                version = step.version
                applied.append(step.label)
            return version

        version = self._transaction(run)
        self.migrations_applied += tuple(applied)
        return version

    async def schema_version(self) -> int:
        return self.schema_version_sync()

    def schema_version_sync(self) -> int:
        try:
            row = self._conn().execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        except sqlite3.OperationalError:
            return 0
        return row[0] or 0

    async def open(self) -> None:
        await self._write(self.migrate_sync)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        if self._wal_index is not None:
            self._wal_index.close()
            self._wal_index = None
        self._wal_index_missing = False
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- threads -------------------------------------------------------------------------

    async def get_thread(self, project: str, thread_id: str) -> ThreadRow | None:
        return self.get_thread_sync(project, thread_id)

    def get_thread_sync(self, project: str, thread_id: str) -> ThreadRow | None:
        r = (
            self._conn()
            .execute(
                f"SELECT {THREAD_COLUMNS} FROM threads INDEXED BY threads_by_id_covering"
                " WHERE project = ? AND id = ?",
                (project, thread_id),
            )
            .fetchone()
        )
        return thread_row(r) if r is not None else None

    async def list_threads(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        return self.list_threads_sync(project, page, user)

    def list_threads_sync(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        scope = "project = ?" + (" AND user_id = ?" if user is not None else "")
        args: tuple[Any, ...] = (project, user) if user is not None else (project,)
        rows = self._keyset("threads", THREAD_COLUMNS, scope, args, page, "id = ?")
        return RowPage([thread_row(r) for r in rows[0]], rows[1])

    async def upsert_thread(self, project: str, row: ThreadRow) -> bool:
        return await self._write(self._transaction, lambda c: self._upsert_thread(c, project, row))

    @staticmethod
    def _upsert_thread(conn: sqlite3.Connection, project: str, row: ThreadRow) -> bool:
        found = conn.execute(
            "SELECT user_id FROM threads WHERE project = ? AND id = ?", (project, row.id)
        ).fetchone()
        if found is None:
            conn.execute(
                "INSERT INTO threads (project, id, user_id, created_us, title, status, extra)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    project,
                    row.id,
                    row.user,
                    row.created_us,
                    row.title,
                    dump_json(row.status),
                    dump_json(row.extra),
                ),
            )
            return True
        if found[0] != row.user:
            return False
        conn.execute(
            "UPDATE threads SET title = ?, status = ?, extra = ? WHERE project = ? AND id = ?",
            (row.title, dump_json(row.status), dump_json(row.extra), project, row.id),
        )
        return True

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

        return await self._write(self._transaction, run)

    # -- items ---------------------------------------------------------------------------

    async def list_items(
        self, project: str, thread_id: str, page: PageQuery, *, rest_only: bool
    ) -> RowPage[ItemRow]:
        return self.list_items_sync(project, thread_id, page, rest_only=rest_only)

    def list_items_sync(
        self, project: str, thread_id: str, page: PageQuery, *, rest_only: bool
    ) -> RowPage[ItemRow]:
        scope = "project = ? AND thread_id = ?"
        if rest_only:
            scope += " AND rest_type IS NOT NULL"
        rows, has_more = self._keyset(
            "items", ITEM_COLUMNS, scope, (project, thread_id), page, "id = ?"
        )
        return RowPage([item_row(r) for r in rows], has_more)

    async def get_item(self, project: str, thread_id: str, item_id: str) -> ItemRow | None:
        r = (
            self._conn()
            .execute(
                f"SELECT {ITEM_COLUMNS} FROM items WHERE project = ? AND id = ? AND thread_id = ?",
                (project, item_id, thread_id),
            )
            .fetchone()
        )
        return item_row(r) if r is not None else None

    async def insert_item(self, project: str, row: ItemRow) -> None:
        await self._write(
            self._transaction, lambda c: insert_unique(c, "items", _item_params(project, [row]))
        )

    async def upsert_item(self, project: str, row: ItemRow) -> None:
        def run(conn: sqlite3.Connection) -> None:
            updated = conn.execute(
                "UPDATE items SET shape = ?, rest_type = ?, payload = ?"
                " WHERE project = ? AND id = ? AND thread_id = ?",
                (row.shape, row.rest_type, row.payload, project, row.id, row.thread_id),
            ).rowcount
            if not updated:
                insert_unique(conn, "items", _item_params(project, [row]))

        await self._write(self._transaction, run)

    async def delete_item(self, project: str, thread_id: str, item_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "DELETE FROM items WHERE project = ? AND id = ? AND thread_id = ?",
                    (project, item_id, thread_id),
                ).rowcount
            )

        return await self._write(self._transaction, run)

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

        await self._write(self._transaction, run)

    async def get_attachment(self, project: str, attachment_id: str) -> tuple[str, str] | None:
        r = (
            self._conn()
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

        return await self._write(self._transaction, run)

    async def list_thread_attachments(self, project: str, thread_id: str) -> list[str]:
        rows = (
            self._conn()
            .execute(
                "SELECT id FROM attachments WHERE project = ? AND thread_id = ?",
                (project, thread_id),
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    # -- sessions ------------------------------------------------------------------------

    async def create_session(self, row: SessionRow, secret_hash: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO sessions (project, id, user_id, secret_hash, secret_hint,"
                " created_at, expires_at, cancelled_at, workflow, rate_limit, configuration,"
                " files_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.project,
                    row.id,
                    row.user,
                    secret_hash,
                    row.secret_hint,
                    row.created_at,
                    row.expires_at,
                    row.cancelled_at,
                    dump_json(row.workflow),
                    row.rate_limit,
                    dump_json(row.configuration),
                    row.files_used,
                ),
            )

        await self._write(self._transaction, run)

    async def get_session(self, project: str, session_id: str) -> SessionRow | None:
        r = (
            self._conn()
            .execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project = ? AND id = ?",
                (project, session_id),
            )
            .fetchone()
        )
        return session_row(r) if r is not None else None

    async def find_session(self, secret_hash: str) -> SessionRow | None:
        r = (
            self._conn()
            .execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE secret_hash = ?", (secret_hash,)
            )
            .fetchone()
        )
        return session_row(r) if r is not None else None

    async def cancel_session(self, project: str, session_id: str, at: int) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "UPDATE sessions SET cancelled_at = ? WHERE project = ? AND id = ?"
                    " AND cancelled_at IS NULL AND expires_at > ?",
                    (at, project, session_id, at),
                ).rowcount
            )

        return await self._write(self._transaction, run)

    async def take_request_slot(
        self, project: str, session_id: str, now_ms: int, limit: int, window_ms: int
    ) -> int | None:
        def run(conn: sqlite3.Connection) -> int | None:
            since = now_ms - window_ms
            conn.execute("DELETE FROM session_requests WHERE at_ms <= ?", (since,))
            count, oldest = conn.execute(
                "SELECT COUNT(*), MIN(at_ms) FROM session_requests"
                " WHERE project = ? AND session_id = ? AND at_ms > ?",
                (project, session_id, since),
            ).fetchone()
            if count >= limit:
                return max(1, oldest + window_ms - now_ms)
            conn.execute(
                "INSERT INTO session_requests (project, session_id, at_ms) VALUES (?, ?, ?)",
                (project, session_id, now_ms),
            )
            return None

        return await self._write(self._transaction, run)

    async def reserve_upload(self, project: str, session_id: str, max_files: int | None) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "UPDATE sessions SET files_used = files_used + 1"
                    " WHERE project = ? AND id = ? AND (? IS NULL OR files_used < ?)",
                    (project, session_id, max_files, max_files),
                ).rowcount
            )

        return await self._write(self._transaction, run)

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

        await self._write(self._transaction, run)

    async def list_feedback(
        self, project: str, *, user: str | None = None, after: int = 0, limit: int = 100
    ) -> list[FeedbackRow]:
        sql = f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE project = ? AND seq > ?"
        args: list[Any] = [project, after]
        if user is not None:
            sql += " AND user_id = ?"
            args.append(user)
        rows = self._conn().execute(sql + " ORDER BY seq LIMIT ?", (*args, limit)).fetchall()
        return [feedback_row(r) for r in rows]

    # -- bulk ----------------------------------------------------------------------------

    async def import_rows(
        self, project: str, threads: Sequence[ThreadRow], items: Sequence[ItemRow]
    ) -> None:
        async with self.bulk_import(project) as batches:
            await batches.add(threads, items)

    @contextlib.asynccontextmanager
    async def bulk_import(self, project: str) -> AsyncIterator[BulkImport]:
        """Batches go to the writer as they come. From the second one on, a helper
        process inserts them while this one prepares the next: SQLite's inserts cannot
        share this process's interpreter lock with the caller's work without waiting on
        it at every row (docs/performance.md). The writer stays busy until the block
        ends, so the process's other writes wait, as for any transaction."""
        sink = _SQLiteImport()
        job = asyncio.ensure_future(self._write(self._import_job, project, sink))
        try:
            yield sink
        except BaseException:
            await sink.put(_ROLLBACK)
            with contextlib.suppress(Exception):
                await job
            raise
        await sink.put(_COMMIT)
        await job

    def _import_job(self, project: str, sink: _SQLiteImport) -> None:
        """The writer's side of ``bulk_import``."""
        try:
            first = sink.take()
            second = None if first in _ENDS else sink.take()
            if second is _ROLLBACK or first is _ROLLBACK:
                return
            if second is None or second is _COMMIT:
                self._import_here(project, [] if first is _COMMIT else [first])
            else:
                self._import_in_helper(project, sink, [first, second])
        except BaseException as exc:
            sink.failed = (isinstance(exc, sqlite3.OperationalError) and _unavailable(exc)) or exc
            while not sink.ended:
                sink.take()  # the caller finds out at its next add(); until then, unblocked
            raise

    def _import_here(self, project: str, batches: list[Any]) -> None:
        conn = self._conn()
        # Ids are random, so a bulk insert touches index pages all over: with a small
        # page cache they are read and spilled to the WAL again and again.
        previous = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
        try:

            def run(conn: sqlite3.Connection) -> None:
                for threads, items in batches:
                    insert_unique(conn, "threads", _thread_params(project, threads))
                    insert_unique(conn, "items", _item_params(project, items))

            self._transaction(run)
        finally:
            conn.execute(f"PRAGMA cache_size = {int(previous)}")

    def _import_in_helper(self, project: str, sink: _SQLiteImport, batches: list[Any]) -> None:
        # A fresh interpreter running only ``sqlite_bulk`` (no fork: this process runs
        # threads; not multiprocessing's spawn, which would import this module and the
        # caller's main module there first).
        ours, theirs = multiprocessing.Pipe()
        args = [json.dumps(sys.path), self.path, str(self._busy_timeout_ms), str(theirs.fileno())]
        helper = subprocess.Popen(
            [sys.executable, "-c", _HELPER, *args], pass_fds=[theirs.fileno()]
        )
        theirs.close()
        try:
            while (batch := batches.pop(0) if batches else sink.take()) not in _ENDS:
                if ours.poll():  # the helper stopped at an earlier batch
                    raise ours.recv()
                threads, items = batch
                ours.send((_thread_params(project, threads), _item_params(project, items)))
            ours.send("commit" if batch is _COMMIT else "rollback")
            if batch is _COMMIT and (failure := ours.recv()) is not None:
                raise failure
        except (EOFError, BrokenPipeError, ConnectionResetError):
            raise StoreUnavailable("the import's helper process exited") from None
        finally:
            if helper.poll() is None:  # it stopped at an error and waits to be told to end
                with contextlib.suppress(OSError):
                    ours.send("rollback")
            try:
                helper.wait(timeout=30)
            except subprocess.TimeoutExpired:
                helper.kill()
                helper.wait()
            ours.close()

    # -- keys ----------------------------------------------------------------------------

    async def create_key(self, row: KeyRow, secret_hash: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO api_keys (id, project, secret_hash, hint, created_at, revoked_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, row.project, secret_hash, row.hint, row.created_at, row.revoked_at),
            )

        await self._write(self._transaction, run)

    def keys_version(self) -> bytes | None:
        """Changes with every write, API keys included (the WAL-index header)."""
        return self._wal_header()

    def _wal_header(self) -> bytes | None:
        """The WAL-index header (first 48 bytes of the ``-shm`` file): SQLite rewrites it
        on every commit, of any process (https://www.sqlite.org/walformat.html). Reading
        it is a memory read, where ``PRAGMA data_version`` costs a read transaction
        (about as much as the key lookup it would save)."""
        index = self._wal_index
        if index is None:
            index = self._map_wal_index()
            if index is None:
                return None
        return index[:48]

    def _map_wal_index(self) -> mmap.mmap | None:
        # Only while a connection of ours is open: the last connection to close may
        # delete the -shm file, and a mapping of a deleted file would never change.
        if self._wal_index_missing or not self._connections:
            return None
        try:
            with open(f"{self.path}-shm", "rb") as f:
                self._wal_index = mmap.mmap(f.fileno(), 48, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            self._wal_index_missing = True
        return self._wal_index

    async def find_key(self, secret_hash: str) -> KeyRow | None:
        r = (
            self._conn()
            .execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?", (secret_hash,))
            .fetchone()
        )
        return key_row(r) if r is not None else None

    async def list_keys(self, project: str | None = None) -> list[KeyRow]:
        if project is None:
            cur = self._conn().execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
            )
        else:
            cur = self._conn().execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE project = ? ORDER BY created_at, id",
                (project,),
            )
        return [key_row(r) for r in cur.fetchall()]

    async def revoke_key(self, key_id: str, revoked_at: int) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (revoked_at, key_id),
                ).rowcount
            )

        return await self._write(self._transaction, run)

    # -- keyset pagination ---------------------------------------------------------------

    def _keyset(
        self,
        table: str,
        columns: str,
        scope: str,
        args: tuple[Any, ...],
        page: PageQuery,
        cursor_match: str,
    ) -> tuple[list[tuple[Any, ...]], bool]:
        """One page of ``table`` in the total order (created_us, seq).

        ``after`` bounds the page on the side the order travels from, ``before`` on the
        side it travels to; without ``after`` but with ``before``, the page is the one
        immediately preceding ``before`` (read backwards, then flipped).
        """
        conn = self._conn()

        def cursor(param: str, value: str) -> tuple[int, int]:
            r = conn.execute(
                f"SELECT created_us, seq FROM {table} WHERE {scope} AND {cursor_match}",
                (*args, value),
            ).fetchone()
            if r is None:
                raise CursorNotFound(param, value)
            return r[0], r[1]

        after = cursor("after", page.after) if page.after is not None else None
        before = cursor("before", page.before) if page.before is not None else None
        forward = page.order == "asc"
        # Walking backwards from `before` when it alone is given.
        backwards = before is not None and after is None
        travel_asc = forward != backwards
        gt, lt = ("(created_us, seq) > (?, ?)", "(created_us, seq) < (?, ?)")
        where = [scope]
        params: list[Any] = list(args)
        if after is not None:
            where.append(gt if forward else lt)
            params.extend(after)
        if before is not None:
            where.append(lt if forward else gt)
            params.extend(before)
        direction = "ASC" if travel_asc else "DESC"
        params.append(page.limit + 1)
        rows = conn.execute(
            f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)}"
            f" ORDER BY created_us {direction}, seq {direction} LIMIT ?",
            params,
        ).fetchall()
        has_more = len(rows) > page.limit
        rows = rows[: page.limit]
        if backwards:
            rows.reverse()
        return rows, has_more


_COMMIT = object()
_ROLLBACK = object()
_ENDS = (_COMMIT, _ROLLBACK)


class _SQLiteImport(BulkImport):
    """Batches handed from the event loop to the writer thread (two at most in flight)."""

    def __init__(self) -> None:
        self.batches: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.failed: BaseException | None = None
        self.ended = False  # the writer has taken the caller's last message

    def take(self) -> Any:
        """The next message, on the writer's side."""
        message = self.batches.get()
        self.ended = message in _ENDS
        return message

    async def add(self, threads: Sequence[ThreadRow], items: Sequence[ItemRow]) -> None:
        if self.failed is not None:
            raise self.failed
        await self.put((threads, items))

    async def put(self, message: Any) -> None:
        try:
            self.batches.put_nowait(message)
        except queue.Full:
            await asyncio.to_thread(self.batches.put, message)


def _unavailable(exc: sqlite3.OperationalError) -> StoreUnavailable | None:
    """Another process (an import, say) held the write lock past the busy timeout: the
    database is unavailable for now, not broken. ``None`` for every other error."""
    if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
        return None
    return StoreUnavailable(f"the SQLite database is busy: {exc}")


def _statements(script: str) -> list[str]:
    """Split a migration file into statements (they contain no semicolons in strings)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _thread_params(project: str, threads: Sequence[ThreadRow]) -> list[tuple[Any, ...]]:
    return [
        (project, t.id, t.user, t.created_us, t.title, dump_json(t.status), dump_json(t.extra))
        for t in threads
    ]


def _item_params(project: str, items: Sequence[ItemRow]) -> list[tuple[Any, ...]]:
    return [
        (project, r.thread_id, r.id, r.created_us, r.shape, r.rest_type, r.payload) for r in items
    ]
