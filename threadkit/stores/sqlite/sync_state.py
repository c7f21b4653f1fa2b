"""SQLite queries for what ``threadkit sync`` keeps between runs (migration 5)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from .connections import Database

#: thread ids per lookup of cursors (SQLite's default limit of variables is 32,766)
_LOOKUP = 500


def cursors(db: Database, project: str, thread_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    conn = db.conn()
    for start in range(0, len(thread_ids), _LOOKUP):
        chunk = thread_ids[start : start + _LOOKUP]
        marks = ", ".join("?" * len(chunk))
        found.update(
            conn.execute(
                "SELECT thread_id, last_item_id FROM sync_threads"
                f" WHERE project = ? AND thread_id IN ({marks})",
                (project, *chunk),
            ).fetchall()
        )
    return found


def put_cursor(conn: sqlite3.Connection, project: str, thread_id: str, item_id: str) -> None:
    """Set a thread's cursor, inside the caller's transaction."""
    conn.execute(
        "INSERT INTO sync_threads (project, thread_id, last_item_id) VALUES (?, ?, ?)"
        " ON CONFLICT (project, thread_id) DO UPDATE SET last_item_id = excluded.last_item_id",
        (project, thread_id, item_id),
    )


def resume_point(db: Database, project: str, source: str, user: str | None) -> str | None:
    r = (
        db.conn()
        .execute(
            "SELECT resume_after FROM sync_runs"
            " WHERE project = ? AND source = ? AND user_filter = ?",
            (project, source, user or ""),
        )
        .fetchone()
    )
    return r[0] if r is not None else None


def set_resume_point(
    conn: sqlite3.Connection, project: str, source: str, user: str | None, thread_id: str | None
) -> None:
    if thread_id is None:
        conn.execute(
            "DELETE FROM sync_runs WHERE project = ? AND source = ? AND user_filter = ?",
            (project, source, user or ""),
        )
        return
    conn.execute(
        "INSERT INTO sync_runs (project, source, user_filter, resume_after, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (project, source, user_filter) DO UPDATE"
        " SET resume_after = excluded.resume_after, updated_at = excluded.updated_at",
        (project, source, user or "", thread_id, int(time.time())),
    )
