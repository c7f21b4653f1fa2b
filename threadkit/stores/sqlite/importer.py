"""The SQLite store's bulk import: batches go to the writer thread as they come, and from
the second batch on a helper process inserts them while this process prepares the next.

SQLite's inserts cannot share this process's interpreter lock with the caller's work
without waiting on it at every row (docs/performance.md). The writer stays busy
until the import ends, so the process's other writes wait, as for any transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import queue
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

from threadkit.stores.base import BulkImport
from threadkit.stores.errors import StoreUnavailable
from threadkit.stores.records import ItemRow, ThreadRow
from threadkit.stores.rows import items_params, threads_params

from .bulk import IMPORT_CACHE_KIB, insert_unique
from .connections import Database, unavailable

# The helper's interpreter gets this process's sys.path (as multiprocessing's spawn
# would), so it imports the same threadkit however this one was started.
_HELPER = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]);"
    " from threadkit.stores.sqlite.bulk import main; main(sys.argv[2:])"
)

_COMMIT = object()
_ROLLBACK = object()
_ENDS = (_COMMIT, _ROLLBACK)


@contextlib.asynccontextmanager
async def bulk_import(db: Database, project: str) -> AsyncIterator[BulkImport]:
    """``ThreadStore.bulk_import`` on SQLite: all batches in one transaction."""
    sink = _Batches()
    job = asyncio.ensure_future(db.write(_import_job, db, project, sink))
    try:
        yield sink
    except BaseException:
        await sink.put(_ROLLBACK)
        with contextlib.suppress(Exception):
            await job
        raise
    await sink.put(_COMMIT)
    await job


class _Batches(BulkImport):
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


def _import_job(db: Database, project: str, sink: _Batches) -> None:
    """The writer's side of ``bulk_import``."""
    try:
        first = sink.take()
        second = None if first in _ENDS else sink.take()
        if second is _ROLLBACK or first is _ROLLBACK:
            return
        if second is None or second is _COMMIT:
            _import_here(db, project, [] if first is _COMMIT else [first])
        else:
            _import_in_helper(db, project, sink, [first, second])
    except BaseException as exc:
        sink.failed = (isinstance(exc, sqlite3.OperationalError) and unavailable(exc)) or exc
        while not sink.ended:
            sink.take()  # the caller finds out at its next add(); until then, unblocked
        raise


def _import_here(db: Database, project: str, batches: list[Any]) -> None:
    conn = db.conn()
    # Ids are random, so a bulk insert touches index pages all over: with a small
    # page cache they are read and spilled to the WAL again and again.
    previous = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    try:

        def run(conn: sqlite3.Connection) -> None:
            for threads, items in batches:
                insert_unique(conn, "threads", threads_params(project, threads), later=True)
                insert_unique(conn, "items", items_params(project, items), later=True)

        db.transaction_sync(run)
    finally:
        conn.execute(f"PRAGMA cache_size = {int(previous)}")


def _import_in_helper(db: Database, project: str, sink: _Batches, batches: list[Any]) -> None:
    # A fresh interpreter running only ``bulk`` (no fork: this process runs threads;
    # not multiprocessing's spawn, which would import this module and the caller's
    # main module there first).
    ours, theirs = multiprocessing.Pipe()
    args = [json.dumps(sys.path), db.path, str(db.busy_timeout_ms), str(theirs.fileno())]
    helper = subprocess.Popen([sys.executable, "-c", _HELPER, *args], pass_fds=[theirs.fileno()])
    theirs.close()
    try:
        while (batch := batches.pop(0) if batches else sink.take()) not in _ENDS:
            if ours.poll():  # the helper stopped at an earlier batch
                raise ours.recv()
            threads, items = batch
            ours.send((threads_params(project, threads), items_params(project, items)))
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
