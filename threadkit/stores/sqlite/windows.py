"""The sessions' rate-limit windows in a SQLite file of their own, ``<database>-windows``.

Each admitted request of a session is a row kept for the length of the sliding window,
as in the main database before; every process on the host opens the same file, so the
limit holds across workers. A file of its own because these rows are written on every
request made with a session secret: in the main database each of those writes would
take its write lock, wait for a ``synchronous=FULL`` commit and empty every reader's
page cache (and the API-key cache, which watches the main file's commits). The windows
are not worth a flush to disk: this file is ``synchronous=OFF`` and its transactions
take microseconds, so they run on the calling thread. A power cut (not a crash of the
process) can forget the last requests of the window, i.e. a session may get up to one
window's requests again once after one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS session_requests ("
    " project TEXT NOT NULL, session_id TEXT NOT NULL, at_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS session_requests_by_session"
    " ON session_requests (project, session_id, at_ms)",
    "CREATE INDEX IF NOT EXISTS session_requests_by_time ON session_requests (at_ms)",
)


class RequestWindows:
    """``take`` a request slot of a session, atomically across processes."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

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
        until the oldest counted request leaves the window."""
        since = now_ms - window_ms
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM session_requests WHERE at_ms <= ?", (since,))
                count, oldest = conn.execute(
                    "SELECT COUNT(*), MIN(at_ms) FROM session_requests"
                    " WHERE project = ? AND session_id = ? AND at_ms > ?",
                    (project, session_id, since),
                ).fetchone()
                if count >= limit:
                    conn.execute("COMMIT")  # the purge
                    return max(1, oldest + window_ms - now_ms)
                conn.execute(
                    "INSERT INTO session_requests (project, session_id, at_ms) VALUES (?, ?, ?)",
                    (project, session_id, now_ms),
                )
                conn.execute("COMMIT")
                return None
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def forget(self, sessions: Sequence[tuple[str, str]], *, dry_run: bool = False) -> int:
        """Drop (or with ``dry_run`` count) the window rows of these ``(project, id)``."""
        if not sessions:
            return 0
        with self._lock:
            conn = self._connection()
            total = 0
            conn.execute("BEGIN IMMEDIATE")
            try:
                for key in sessions:
                    if dry_run:
                        total += conn.execute(
                            "SELECT COUNT(*) FROM session_requests"
                            " WHERE project = ? AND session_id = ?",
                            key,
                        ).fetchone()[0]
                    else:
                        total += conn.execute(
                            "DELETE FROM session_requests WHERE project = ? AND session_id = ?",
                            key,
                        ).rowcount
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
