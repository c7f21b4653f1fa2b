"""The sessions' rate-limit windows in a SQLite file of their own, ``<database>-windows``.

Per session, a row per bucket of ``request_window.BUCKET_MS`` with the number of
requests admitted in it, and a row with their running total, so a check reads one row
and drops the few buckets that left the window since the last one, whatever the load
(counting every request of the last minute cost ~12,000 rows per check under load).
Every process on the host opens the same file, and each check is one ``BEGIN
IMMEDIATE`` transaction, so the limit holds across workers.

A file of its own because these rows are written on every request made with a session
secret: in the main database each of those writes would take its write lock, wait for a
``synchronous=FULL`` commit and empty every reader's page cache (and the API-key cache,
which watches the main file's commits). The windows are not worth a flush to disk: this
file is ``synchronous=OFF`` and its transactions take microseconds, so they run on the
calling thread. A power cut (not a crash of the process) can forget the last requests
of the window, i.e. a session may get up to one window's requests again once after one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

from threadkit.stores.request_window import bucket_of, last_gone, wait_for

_SCHEMA = (
    # The first layout of this file: one row per request.
    "DROP TABLE IF EXISTS session_requests",
    "CREATE TABLE IF NOT EXISTS request_windows ("
    " project TEXT NOT NULL, session_id TEXT NOT NULL, total INTEGER NOT NULL,"
    " last_bucket INTEGER NOT NULL, PRIMARY KEY (project, session_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS request_windows_by_last ON request_windows (last_bucket)",
    "CREATE TABLE IF NOT EXISTS request_buckets ("
    " project TEXT NOT NULL, session_id TEXT NOT NULL, bucket INTEGER NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY (project, session_id, bucket)) WITHOUT ROWID",
)
# Sessions idle for a whole window are dropped at most once per bucket and process,
# this many at a time.
_PURGE_BATCH = 100


class RequestWindows:
    """``take`` a request slot of a session, atomically across processes."""

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
            self._conn = conn
        return self._conn

    def take(
        self, project: str, session_id: str, now_ms: int, limit: int, window_ms: int
    ) -> int | None:
        """``RowStore.take_request_slot``: ``None`` when admitted, else the milliseconds
        until the oldest counted bucket leaves the window."""
        key = (project, session_id)
        current, gone = bucket_of(now_ms), last_gone(now_ms, window_ms)
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._purged_at != current and _drop_idle(conn, gone) < _PURGE_BATCH:
                    self._purged_at = current
                row = conn.execute(
                    "SELECT total FROM request_windows WHERE project = ? AND session_id = ?", key
                ).fetchone()
                total = left = 0
                if row is not None:
                    left = sum(
                        n
                        for (n,) in conn.execute(
                            "DELETE FROM request_buckets"
                            " WHERE project = ? AND session_id = ? AND bucket <= ? RETURNING n",
                            (*key, gone),
                        ).fetchall()
                    )
                    total = row[0] - left
                if total >= limit:
                    oldest = conn.execute(
                        "SELECT min(bucket) FROM request_buckets"
                        " WHERE project = ? AND session_id = ?",
                        key,
                    ).fetchone()[0]
                    if left:
                        conn.execute(
                            "UPDATE request_windows SET total = ?"
                            " WHERE project = ? AND session_id = ?",
                            (total, *key),
                        )
                    conn.execute("COMMIT")
                    return window_ms if oldest is None else wait_for(oldest, now_ms, window_ms)
                conn.execute(
                    "INSERT INTO request_buckets VALUES (?, ?, ?, 1)"
                    " ON CONFLICT DO UPDATE SET n = n + 1",
                    (*key, current),
                )
                conn.execute(
                    "INSERT INTO request_windows VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE"
                    " SET total = excluded.total,"
                    " last_bucket = max(last_bucket, excluded.last_bucket)",
                    (*key, total + 1, current),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return None

    def forget(self, sessions: Sequence[tuple[str, str]], *, dry_run: bool = False) -> int:
        """Drop (or with ``dry_run`` count) the window rows (totals and buckets) of these
        ``(project, id)``."""
        if not sessions:
            return 0
        with self._lock:
            conn = self._connection()
            total = 0
            conn.execute("BEGIN IMMEDIATE")
            try:
                for key in sessions:
                    for table in ("request_windows", "request_buckets"):
                        where = f"FROM {table} WHERE project = ? AND session_id = ?"
                        if dry_run:
                            total += conn.execute(f"SELECT COUNT(*) {where}", key).fetchone()[0]
                        else:
                            total += conn.execute(f"DELETE {where}", key).rowcount
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
    """Drop the windows of sessions with no bucket left in the window (whole: a total
    stays the sum of its buckets); returns how many."""
    idle = conn.execute(
        "SELECT project, session_id FROM request_windows WHERE last_bucket <= ? LIMIT ?",
        (gone, _PURGE_BATCH),
    ).fetchall()
    for table in ("request_buckets", "request_windows"):
        conn.executemany(f"DELETE FROM {table} WHERE project = ? AND session_id = ?", idle)
    return len(idle)
