"""SQLite maintenance steps (see ``threadkit.stores.maintenance``).

Every step is one transaction on the writer thread, so steps of several processes
take turns on the file's write lock; each re-reads its rows under that lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from threadkit.stores.maintenance import AttachmentRecord, Cursor, PruneStep

from .connections import Database
from .windows import RequestWindows

_START = ("", "")


class MaintenanceQueries:
    """The part of ``SQLiteStore`` that prunes."""

    _db: Database
    _windows: RequestWindows

    async def prune_sessions(
        self, ended_before: int, cursor: Cursor | None, limit: int, *, dry_run: bool = False
    ) -> PruneStep:
        def run(conn: sqlite3.Connection) -> PruneStep:
            rows = conn.execute(
                "SELECT project, id, expires_at, cancelled_at FROM sessions"
                " WHERE (project, id) > (?, ?) ORDER BY project, id LIMIT ?",
                (*(cursor or _START), limit),
            ).fetchall()
            due = [(p, i) for p, i, exp, cancel in rows if min(exp, cancel or exp) < ended_before]
            requests = self._windows.forget(due, dry_run=dry_run)
            for key in due:
                if not dry_run:
                    conn.execute("DELETE FROM sessions WHERE project = ? AND id = ?", key)
            last = (rows[-1][0], rows[-1][1]) if len(rows) == limit else None
            return PruneStep({"sessions": len(due), "rate_limit_rows": requests}, [], last)

        return await self._db.transaction(run)

    async def scan_attachments(
        self, cursor: Cursor | None, limit: int
    ) -> tuple[list[AttachmentRecord], Cursor | None]:
        rows = (
            self._db.conn()
            .execute(
                "SELECT project, id, payload FROM attachments WHERE (project, id) > (?, ?)"
                " ORDER BY project, id LIMIT ?",
                (*(cursor or _START), limit),
            )
            .fetchall()
        )
        found = [AttachmentRecord(*r) for r in rows]
        return found, ((rows[-1][0], rows[-1][1]) if len(rows) == limit else None)

    async def remove_attachments_unchanged(
        self, records: Sequence[AttachmentRecord]
    ) -> list[AttachmentRecord]:
        def run(conn: sqlite3.Connection) -> list[AttachmentRecord]:
            return [
                r
                for r in records
                if conn.execute(
                    "DELETE FROM attachments WHERE project = ? AND id = ? AND payload = ?",
                    (r.project, r.id, r.payload),
                ).rowcount
            ]

        return await self._db.transaction(run) if records else []

    async def thread_projects(self) -> list[str]:
        # A skip scan: one index descent per project, however many threads each holds.
        conn = self._db.conn()
        projects: list[str] = []
        while True:
            row = conn.execute(
                "SELECT MIN(project) FROM threads WHERE project > ?",
                (projects[-1] if projects else "",),
            ).fetchone()
            if row[0] is None:
                return projects
            projects.append(row[0])

    async def prune_threads(
        self,
        project: str,
        inactive_before_us: int,
        cursor: Cursor | None,
        limit: int,
        *,
        dry_run: bool = False,
    ) -> PruneStep:
        def run(conn: sqlite3.Connection) -> PruneStep:
            after = cursor or (-(2**63), -1)
            rows = conn.execute(
                "SELECT id, created_us, seq FROM threads INDEXED BY threads_by_time"
                " WHERE project = ? AND created_us < ? AND (created_us, seq) > (?, ?)"
                " ORDER BY created_us, seq LIMIT ?",
                (project, inactive_before_us, *after, limit),
            ).fetchall()
            counts = {"threads": 0, "items": 0, "feedback": 0, "attachments": 0}
            files: list[tuple[str, str]] = []
            for thread_id, _, _ in rows:
                if _active_since(conn, project, thread_id, inactive_before_us):
                    continue
                counts["threads"] += 1
                key = (project, thread_id)
                if dry_run:
                    for table in ("items", "feedback", "attachments"):
                        counts[table] += conn.execute(
                            f"SELECT COUNT(*) FROM {table} WHERE project = ? AND thread_id = ?",
                            key,
                        ).fetchone()[0]
                    continue
                conn.execute("DELETE FROM threads WHERE project = ? AND id = ?", key)
                for table in ("items", "feedback"):
                    counts[table] += conn.execute(
                        f"DELETE FROM {table} WHERE project = ? AND thread_id = ?", key
                    ).rowcount
                gone = conn.execute(
                    "DELETE FROM attachments WHERE project = ? AND thread_id = ? RETURNING id",
                    key,
                ).fetchall()
                counts["attachments"] += len(gone)
                files += [(project, r[0]) for r in gone]
            last = (rows[-1][1], rows[-1][2]) if len(rows) == limit else None
            return PruneStep(counts, files, last)

        return await self._db.transaction(run)


def _active_since(conn: sqlite3.Connection, project: str, thread_id: str, since_us: int) -> bool:
    """Whether the thread has an item created at or after ``since_us`` (one index seek)."""
    return (
        conn.execute(
            "SELECT 1 FROM items WHERE project = ? AND thread_id = ? AND created_us >= ? LIMIT 1",
            (project, thread_id, since_us),
        ).fetchone()
        is not None
    )
