"""The SQLite store's connections: one per reading thread, one writer thread.

Why blocking ``sqlite3`` and not an async driver: a primary-key lookup costs about
11 µs through ``sqlite3`` and about 130 µs through ``aiosqlite`` (which hops to a
thread per call). Every read is a bounded, indexed query (at most 101 rows), so
reads run inline on the event loop, each thread with its own connection. Writes
can wait on the file lock (other processes) and on ``fsync``, so they run on one
dedicated writer thread and never block the loop; any event loop may await them.

The schema is brought up to date by the first connection opened, whoever opens it,
so a store works right after construction.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import mmap
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from threadkit.stores.errors import StoreFull, StoreUnavailable, StoreUsageError

from .bulk import connect

R = TypeVar("R")

#: page cache of each reading connection, MiB, while the database is quiet. SQLite's
#: default (2 MiB) holds little of a large database, and each page it misses is a read
#: from the file: at 1,000,000 threads a first page of a user's threads took 2.5-4x as
#: long as at 1,000 (1.3-1.8x with this cache; docs/performance.md). Pages are cached
#: as they are read, so a small database uses little.
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
#: at most this many waiting transactions are committed together
MAX_BATCH = 64

_Job = tuple[Callable[..., Any], tuple[Any, ...], "concurrent.futures.Future[Any]"]


def _settle(future: concurrent.futures.Future[Any], fn: Callable[..., Any], *args: Any) -> None:
    try:
        result = fn(*args)
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)


class Database:
    """The connections to one SQLite file. ``prepare`` brings a new database's schema
    up to date; it runs once, on the first connection any thread opens."""

    def __init__(
        self,
        path: str,
        prepare: Callable[[sqlite3.Connection], object],
        *,
        busy_timeout_ms: int,
        cache_mib: int,
        quiet_seconds: float,
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.cache_mib = cache_mib
        self.quiet_seconds = quiet_seconds
        self._prepare = prepare
        self._prepared = False
        self._closed = False
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list[_Job] = []
        self._pending_lock = threading.Lock()
        self._draining = False
        self._wal_index: mmap.mmap | None = None
        self._wal_index_fd: int | None = None
        self._wal_index_missing = False

    # -- connections ---------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened, and the schema prepared, on first use)."""
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = self._open_connection()
        elif local.reader and (now := time.monotonic()) >= local.next_look:
            self._fit_reader_cache(conn, now)
        return conn

    def _open_connection(self) -> sqlite3.Connection:
        local = self._local
        writer = getattr(local, "writer", False)
        cache_mib = min(self.cache_mib, WRITER_CACHE_MIB) if writer else self.cache_mib
        with self._lock:
            if self._closed:
                raise StoreUsageError(
                    f"this SQLite store ({self.path}) is closed; make a new one to go on"
                )
            if not self._prepared:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = connect(self.path, self.busy_timeout_ms, cache_mib * 1024)
            if not self._prepared:
                try:
                    self._prepare(conn)
                except BaseException as exc:
                    conn.close()
                    if isinstance(exc, sqlite3.OperationalError) and unavailable(exc):
                        raise unavailable(exc) from exc
                    raise
                self._prepared = True
            self._connections.append(conn)
        local.conn = conn
        local.reader = not writer
        local.cache_kib = cache_mib * 1024
        local.seen = None  # the WAL-index header at the last look
        local.changed_at = float("-inf")
        local.next_look = time.monotonic() + LOOK_EVERY_SECONDS
        return conn

    def _fit_reader_cache(self, conn: sqlite3.Connection, now: float) -> None:
        """The reader's full cache while the database is quiet, a small one while it
        changes (see ``CHANGING_CACHE_MIB``)."""
        local = self._local
        local.next_look = now + LOOK_EVERY_SECONDS
        seen = self.wal_header()
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

    # -- writes --------------------------------------------------------------------------

    async def write(self, fn: Callable[..., R], *args: Any) -> R:
        """Run ``fn(*args)`` on the writer thread."""
        writer = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(writer, fn, *args)
        except sqlite3.OperationalError as exc:
            if (busy := unavailable(exc)) is None:
                raise
            raise busy from exc

    async def transaction(self, fn: Callable[..., R], *args: Any) -> R:
        """Run ``fn(conn, *args)`` in one write transaction on the writer thread.

        Transactions that wait while the writer is busy are committed together (see
        ``_commit_together``): one flush to disk for all of them, so concurrent writers
        do not queue behind one ``fsync`` each. Each still succeeds or fails alone."""
        writer = self._executor()
        job: _Job = (fn, args, concurrent.futures.Future())
        with self._pending_lock:
            self._pending.append(job)
            start = not self._draining
            self._draining = True
        if start:
            writer.submit(self._drain)
        try:
            return await asyncio.wrap_future(job[2])
        except sqlite3.OperationalError as exc:
            if (busy := unavailable(exc)) is None:
                raise
            raise busy from exc

    def _drain(self) -> None:
        """On the writer thread: commit the waiting transactions, a batch at a time."""
        while True:
            with self._pending_lock:
                taken = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                if not taken:
                    self._draining = False
                    return
            # A transaction whose caller was cancelled before it started does not run.
            batch = [job for job in taken if job[2].set_running_or_notify_cancel()]
            if not batch:
                continue
            if len(batch) == 1:
                fn, args, future = batch[0]
                _settle(future, self.transaction_sync, fn, *args)
            else:
                self._commit_together(batch)

    def _commit_together(self, batch: list[_Job]) -> None:
        """The batch's transactions in one ``BEGIN IMMEDIATE ... COMMIT``, each inside a
        savepoint so that one that fails is undone alone. If the transaction as a whole
        fails (the ``COMMIT``, or an error that rolled everything back, as a full disk
        may), every transaction of the batch fails with that error."""
        outcomes: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        conn: sqlite3.Connection | None = None
        try:
            conn = self.conn()
            conn.execute("BEGIN IMMEDIATE")
            for fn, args, future in batch:
                conn.execute("SAVEPOINT one")
                try:
                    result = fn(conn, *args)
                except BaseException as exc:
                    if not conn.in_transaction:
                        raise
                    conn.execute("ROLLBACK TO one")
                    conn.execute("RELEASE one")
                    outcomes.append((future, None, exc))
                    continue
                conn.execute("RELEASE one")
                outcomes.append((future, result, None))
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn is not None and conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    def _executor(self) -> ThreadPoolExecutor:
        if self._writer is None:
            if self._closed:
                raise StoreUsageError(
                    f"this SQLite store ({self.path}) is closed; make a new one to go on"
                )
            self._writer = ThreadPoolExecutor(
                1, thread_name_prefix="threadkit-sqlite-writer", initializer=self._mark_writer
            )
        return self._writer

    def _mark_writer(self) -> None:
        self._local.writer = True

    def transaction_sync(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(conn, *args)`` in one write transaction on this thread's connection."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn, *args)
            conn.execute("COMMIT")
        except BaseException:
            # A full disk or an I/O error may have rolled the transaction back already,
            # and a failed COMMIT leaves it open: either way, end it, keeping the error.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        return result

    # -- the WAL index -------------------------------------------------------------------

    def wal_header(self) -> bytes | None:
        """The WAL-index header (first 48 bytes of the ``-shm`` file): SQLite rewrites it
        on every commit, of any process (https://www.sqlite.org/walformat.html). Reading
        it is a memory read, where ``PRAGMA data_version`` costs a read transaction
        (about as much as a key lookup)."""
        index = self._wal_index
        if index is None:
            index = self._map_wal_index()
            if index is None:
                return None
        return index[:48]

    def _map_wal_index(self) -> mmap.mmap | None:
        # Only while a connection of ours is open: the last connection to close may
        # delete the -shm file, and a mapping of a deleted file would never change.
        with self._lock:  # readers on several threads may come at once
            if self._wal_index is not None or self._wal_index_missing or not self._connections:
                return self._wal_index
            # The descriptor stays open until close(), after the connections: closing any
            # descriptor of a file drops every POSIX lock the process holds on it, SQLite's
            # too. Without SQLite's lock on the -shm, the next process to open the database
            # takes itself for the only one and resets the -shm under our connections (a
            # SIGBUS where they had it mapped).
            try:
                self._wal_index_fd = os.open(f"{self.path}-shm", os.O_RDONLY)
                self._wal_index = mmap.mmap(self._wal_index_fd, 48, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                self._wal_index_missing = True
            return self._wal_index

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection; later use raises ``StoreUsageError``."""
        with self._lock:
            self._closed = True
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._local = threading.local()
        # After the connections (see _map_wal_index).
        if self._wal_index is not None:
            self._wal_index.close()
            self._wal_index = None
        if self._wal_index_fd is not None:
            os.close(self._wal_index_fd)
            self._wal_index_fd = None


def unavailable(exc: sqlite3.OperationalError) -> StoreUnavailable | None:
    """Another process (an import, say) held the write lock past the busy timeout, or the
    disk is full (or failed a write): the database is unavailable for now, not broken.
    ``None`` for every other error."""
    code = exc.sqlite_errorcode & 0xFF
    if code == sqlite3.SQLITE_BUSY:
        return StoreUnavailable(f"the SQLite database is busy: {exc}")
    if code == sqlite3.SQLITE_FULL:
        return StoreFull(f"the SQLite database's disk is full: {exc}")
    if code == sqlite3.SQLITE_IOERR:
        return StoreUnavailable(f"the SQLite database cannot write to its disk: {exc}")
    return None
