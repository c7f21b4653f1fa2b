"""How every SQLite connection is made, the row inserts, and the helper process a bulk
import inserts through (its ``main``).

Kept free of heavy imports: the helper starts in a fresh interpreter while the
importing process waits for it, and importing the rest of the store (the protocol
models) took 0.6 s there (docs/performance.md).
"""

from __future__ import annotations

import sqlite3
from multiprocessing.connection import Connection
from typing import Any

from threadkit.stores.errors import DuplicateId

from . import search_backlog

#: page cache of the connection while it imports (KiB; freed when the import ends)
IMPORT_CACHE_KIB = 256 * 1024

INSERT = {
    "threads": "INSERT INTO threads (project, id, user_id, created_us, title, status, extra)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)",
    "items": "INSERT INTO items (project, thread_id, id, created_us, shape, rest_type, payload)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)",
}
_ID_AT = {"threads": 1, "items": 2}  # where the id sits in a row of parameters
# The search index of migration 7, for the rows a batch added (those past the highest seq
# of before it). One statement per batch: FTS5 writes out its pending terms at the end
# of every statement that adds to it, so a trigger per row cost a bulk import 3x.
_INDEX = {
    "threads": "INSERT INTO title_search (rowid, body)"
    " SELECT seq, body FROM title_search_text WHERE seq > ?",
    "items": "INSERT INTO item_search (rowid, body)"
    " SELECT seq, body FROM item_search_text WHERE seq > ?",
}


def connect(path: str, busy_timeout_ms: int, cache_kib: int) -> sqlite3.Connection:
    """A connection as every threadkit connection is: autocommit (transactions are
    explicit), WAL, synchronous=FULL (a commit survives a power cut)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(f"PRAGMA cache_size = {-int(cache_kib)}")
    return conn


def insert_unique(
    conn: sqlite3.Connection, table: str, params: list[tuple[Any, ...]], *, later: bool = False
) -> None:
    """``executemany`` that turns a unique-id violation into ``DuplicateId`` naming the id,
    then adds the new rows to the search index (every insert of the store comes here), or
    with ``later`` to the search backlog (a bulk import's, ``search_backlog``).

    Rows before the one refused stay inserted: every caller rolls its transaction back
    on the error. No savepoint guards the batch: SQLite would copy each page the batch
    touches into a sub-journal first, which made a bulk import 1.3x slower
    (docs/performance.md). A one-row ``INSERT`` checks its constraints before it
    writes, so the refused row itself leaves nothing behind, and the rows that went in
    before it are those past the highest ``seq`` of before the batch (SQLite gives a new
    row the highest rowid plus one): the same bound tells the index which rows are new."""
    if not params:
        return
    last = conn.execute(f"SELECT max(seq) FROM {table}").fetchone()[0] or 0
    search_backlog.cut(conn, table, last)
    try:
        conn.executemany(INSERT[table], params)
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname not in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
            raise
        went_in = conn.execute(f"SELECT count(*) FROM {table} WHERE seq > ?", (last,)).fetchone()
        refused = params[went_in[0]]
        raise DuplicateId(table.rstrip("s"), refused[_ID_AT[table]]) from exc
    if later:
        search_backlog.record(conn, table, last + 1, last + len(params))
    else:
        conn.execute(_INDEX[table], (last,))


def insert_batches(path: str, busy_timeout_ms: int, pipe: Connection) -> None:
    """The helper's work: one transaction over the batches it receives, committed on
    ``"commit"``. An error is sent back at once; the batches still arriving are then
    read and dropped, so the sender never blocks."""
    conn = connect(path, busy_timeout_ms, IMPORT_CACHE_KIB)
    try:
        conn.execute("BEGIN IMMEDIATE")
        while not isinstance(message := pipe.recv(), str):
            threads, items = message
            insert_unique(conn, "threads", threads, later=True)
            insert_unique(conn, "items", items, later=True)
        if message == "commit":
            conn.execute("COMMIT")
            pipe.send(None)
        else:
            conn.execute("ROLLBACK")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        pipe.send(exc)
        while not isinstance(pipe.recv(), str):
            pass
    finally:
        conn.close()


def main(argv: list[str]) -> None:
    """The helper's entry point: ``PATH BUSY_TIMEOUT_MS PIPE_FD``."""
    path, busy_timeout_ms, fd = argv
    pipe = Connection(int(fd))
    try:
        insert_batches(path, int(busy_timeout_ms), pipe)
    finally:
        pipe.close()
