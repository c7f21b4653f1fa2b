"""The sessions' rate-limit windows in a SQLite file of their own, ``<database>-windows``.

One row per session holds its window: the running total and, per bucket of
``request_window.BUCKET_MS`` with requests admitted in it, the bucket and its count,
packed as 64-bit integers (``_Window``). A check is one statement, an upsert whose new
value a function of this module computes from the old one (``_take``), so it reads
one row and drops the few buckets that left the window since the last one, whatever
the load. Every process on the host opens the same file, and a write statement holds
the file's write lock from its read to its commit, so the limit holds across workers.
(The previous layout, a row per bucket and one for the total, took six statements per
check: 75 µs of a 170 µs protocol read; this takes one.)

A check takes the slots a lease asks for and gives back the unused ones of an earlier
bucket in the same statement (``RowStore.take_request_slots``).

A file of its own because these rows are written on every request made with a session
secret: in the main database each of those writes would take its write lock, wait for a
``synchronous=FULL`` commit and empty every reader's page cache (and the API-key cache,
which watches the main file's commits). The windows are not worth a flush to disk: this
file is ``synchronous=OFF`` and its transactions take microseconds, so they run on the
calling thread. A power cut (not a crash of the process) can forget the last requests
of the window, i.e. a session may get up to one window's requests again once after one.
Upgrading from the previous layout forgets the counts of the last minute the same way,
and until every process runs this version the old and the new count apart.
"""

from __future__ import annotations

import bisect
import sqlite3
import sys
import threading
from array import array
from collections.abc import Sequence

from threadkit.stores.request_window import Grant, bucket_of, grant_for, last_gone, wait_for

_SCHEMA = (
    # The first layout of this file: a row per request. (The second, a row per bucket,
    # request_windows and request_buckets, is left to the processes of an earlier
    # version that may still run beside this one while a server is upgraded.)
    "DROP TABLE IF EXISTS session_requests",
    "CREATE TABLE IF NOT EXISTS session_windows ("
    " project TEXT NOT NULL, session_id TEXT NOT NULL, state BLOB NOT NULL,"
    " last_bucket INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS session_windows_by_id"
    " ON session_windows (project, session_id)",
    "CREATE INDEX IF NOT EXISTS session_windows_by_last ON session_windows (last_bucket)",
)
# Sessions idle for a whole window are dropped at most once per bucket and process,
# this many at a time.
_PURGE_BATCH = 100
#: the state's integers are stored little-endian whatever the host
_SWAP = sys.byteorder != "little"
#: ``state``: ``total, answer, n, base`` (64-bit), then ``n`` buckets, oldest first, as
#: 16-bit offsets from ``base``, then their counts (32-bit: a count is at most a rate
#: limit, below 2**31; a bucket whose count is given back to 0 is dropped). ``answer``
#: is the answer of the check that wrote it: the slots it granted, or minus the wait in
#: milliseconds when it refused, 0 when it asked for none. (A process of the previous
#: version wrote 0 for a request it admitted; each reads only the answer of its own
#: statement.) 600 buckets (a session busy all minute) take 3.6 KB: one page.
_HEAD_BYTES = 32
_MAX_OFFSET = 0xFFFF
_UPDATE = (
    "UPDATE session_windows SET state = threadkit_take(state, ?3, ?4, ?5, ?6, ?7, ?8),"
    " last_bucket = max(last_bucket, ?9) WHERE project = ?1 AND session_id = ?2"
    " RETURNING substr(state, 9, 8)"
)
# A session's first check (or a race with another process's first check of it).
_INSERT = (
    "INSERT INTO session_windows (project, session_id, state, last_bucket)"
    " VALUES (?1, ?2, threadkit_take(NULL, ?3, ?4, ?5, ?6, ?7, ?8), ?9)"
    " ON CONFLICT (project, session_id) DO UPDATE"
    " SET state = threadkit_take(state, ?3, ?4, ?5, ?6, ?7, ?8),"
    " last_bucket = max(last_bucket, ?9)"
    " RETURNING substr(state, 9, 8)"
)

Offsets = "list[int] | array[int]"


def _load(state: bytes | None, at: int) -> tuple[int, int, Offsets, array[int]]:
    """``total, base, offsets, counts``; ``at`` is the bucket about to be counted."""
    if state is None:
        return 0, at, array("H"), array("I")
    head, offsets, counts = array("q"), array("H"), array("I")
    head.frombytes(state[:_HEAD_BYTES])
    if _SWAP:
        head.byteswap()
    total, _, n, base = head
    offsets.frombytes(state[_HEAD_BYTES : _HEAD_BYTES + 2 * n])
    counts.frombytes(state[_HEAD_BYTES + 2 * n :])
    if _SWAP:
        offsets.byteswap()
        counts.byteswap()
    return total, base, offsets, counts


def _dump(total: int, wait_ms: int, base: int, offsets: Offsets, counts: array[int]) -> bytes:
    if offsets and (offsets[0] < 0 or offsets[-1] > _MAX_OFFSET):
        # Rebased on the oldest bucket: rare (109 minutes of one session's requests, or
        # a clock that went back past the base).
        first = offsets[0]
        base += first
        offsets = [o - first for o in offsets]
    packed = array("H", offsets)
    head = array("q", (total, wait_ms, len(packed), base))
    if _SWAP:
        head.byteswap()
        packed.byteswap()
        counts = array("I", counts)
        counts.byteswap()
    return head.tobytes() + packed.tobytes() + counts.tobytes()


def _take(
    state: bytes | None,
    now_ms: int,
    limit: int,
    window_ms: int,
    want: int,
    back_bucket: int,
    back: int,
) -> bytes:
    """The window after a check at ``now_ms``: the buckets that left it dropped; ``back``
    slots of bucket ``back_bucket`` uncounted if it is still in the window (never below
    zero); then, while the total is below ``limit``, ``grant_for(room, want)`` slots
    counted in the bucket of ``now_ms`` (``answer`` that many), else nothing counted and
    the wait until the oldest bucket leaves (``answer`` minus it). ``want`` 0: only the
    give-back (``answer`` 0)."""
    current = bucket_of(now_ms)
    total, base, offsets, counts = _load(state, current)
    gone_at = last_gone(now_ms, window_ms)
    gone = bisect.bisect_right(offsets, gone_at - base)
    if gone:
        total -= sum(counts[:gone])
        del offsets[:gone]
        del counts[:gone]
    if back > 0 and back_bucket > gone_at:
        at = bisect.bisect_left(offsets, back_bucket - base)
        if at < len(offsets) and offsets[at] == back_bucket - base:
            given = min(back, counts[at])
            total -= given
            if given == counts[at]:
                del offsets[at]
                del counts[at]
            else:
                counts[at] -= given
    if want <= 0:
        return _dump(total, 0, base, offsets, counts)
    room = limit - total
    if room <= 0:
        wait_ms = wait_for(base + offsets[0], now_ms, window_ms) if offsets else window_ms
        return _dump(total, -wait_ms, base, offsets, counts)
    granted = grant_for(room, want)
    offset = current - base
    if not 0 <= offset <= _MAX_OFFSET:
        offsets = list(offsets)  # plain integers for now: ``_dump`` rebases them
    # Another process may have counted a later millisecond first: keep buckets in order.
    at = bisect.bisect_left(offsets, offset)
    if at < len(offsets) and offsets[at] == offset:
        counts[at] += granted
    else:
        offsets.insert(at, offset)
        counts.insert(at, granted)
    return _dump(total + granted, granted, base, offsets, counts)


class RequestWindows:
    """``take`` request slots of a session, atomically across processes."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._purged_at: int | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = OFF")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.create_function("threadkit_take", 7, _take)
            self._conn = conn
        return self._conn

    def take(
        self,
        project: str,
        session_id: str,
        now_ms: int,
        limit: int,
        window_ms: int,
        want: int = 1,
        give_back: tuple[int, int] | None = None,
    ) -> Grant:
        """``RowStore.take_request_slots``."""
        current = bucket_of(now_ms)
        back_bucket, back = give_back if give_back is not None else (0, 0)
        with self._lock:
            conn = self._connection()
            if self._purged_at != current:
                gone = last_gone(now_ms, window_ms)
                if _drop_idle(conn, gone) < _PURGE_BATCH:
                    self._purged_at = current
            args = (project, session_id, now_ms, limit, window_ms, want, back_bucket, back)
            found = conn.execute(_UPDATE, (*args, current)).fetchone()
            if found is None:
                if want <= 0:
                    return Grant(0, 0)  # nothing to give back to
                found = conn.execute(_INSERT, (*args, current)).fetchone()
        answer = int.from_bytes(found[0], "little", signed=True)
        return Grant(answer, 0) if answer >= 0 else Grant(0, -answer)

    def forget(self, sessions: Sequence[tuple[str, str]], *, dry_run: bool = False) -> int:
        """Drop (or with ``dry_run`` count) the windows of these ``(project, id)``; returns
        how many entries they held, a total and a bucket each as on PostgreSQL."""
        if not sessions:
            return 0
        where = "FROM session_windows WHERE project = ? AND session_id = ?"
        with self._lock:
            conn = self._connection()
            total = 0
            conn.execute("BEGIN IMMEDIATE")
            try:
                for key in sessions:
                    found = conn.execute(f"SELECT state {where}", key).fetchone()
                    if found is None:
                        continue
                    total += 1 + len(_load(found[0], 0)[2])
                    if not dry_run:
                        conn.execute(f"DELETE {where}", key)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return total

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _drop_idle(conn: sqlite3.Connection, gone: int) -> int:
    """Drop the windows of sessions with no bucket left in the window; returns how many."""
    return conn.execute(
        "DELETE FROM session_windows WHERE rowid IN"
        " (SELECT rowid FROM session_windows WHERE last_bucket <= ? LIMIT ?)",
        (gone, _PURGE_BATCH),
    ).rowcount
