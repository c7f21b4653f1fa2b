"""PostgreSQL maintenance steps (see ``threadkit.stores.maintenance``).

Safe with many processes pruning at once: rows are read in bounded key ranges and
deleted by key with their condition re-checked, so a row another process removed
first is not counted twice. Threads are taken ``FOR UPDATE SKIP LOCKED`` (a thread
another pruner holds is its business) and under the per-thread lock item appends
take, so no item lands in a thread between the check and the delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from threadkit.stores.maintenance import AttachmentRecord, Cursor, PruneStep

from .connections import Pool

_START = ("", "")

SESSION_PAGE = (
    "SELECT project, id, expires_at, cancelled_at FROM sessions"
    " WHERE (project, id) > ($1, $2) ORDER BY project, id LIMIT $3"
)
_ENDED = "LEAST(s.expires_at, COALESCE(s.cancelled_at, s.expires_at)) < $3"
DELETE_SESSIONS = (
    "WITH gone AS (DELETE FROM sessions s USING unnest($1::text[], $2::text[]) AS k(p, i)"
    f" WHERE s.project = k.p AND s.id = k.i AND {_ENDED} RETURNING s.project, s.id),"
    " windows AS (DELETE FROM session_windows w USING gone"
    " WHERE w.project = gone.project AND w.session_id = gone.id RETURNING 1),"
    " buckets AS (DELETE FROM session_buckets b USING gone"
    " WHERE b.project = gone.project AND b.session_id = gone.id RETURNING 1)"
    " SELECT (SELECT count(*) FROM gone),"
    " (SELECT count(*) FROM windows) + (SELECT count(*) FROM buckets)"
)
COUNT_REQUESTS = (
    "SELECT (SELECT count(*) FROM session_windows w, unnest($1::text[], $2::text[]) AS k(p, i)"
    " WHERE w.project = k.p AND w.session_id = k.i)"
    " + (SELECT count(*) FROM session_buckets b, unnest($1::text[], $2::text[]) AS k(p, i)"
    " WHERE b.project = k.p AND b.session_id = k.i)"
)
ATTACHMENT_PAGE = (
    "SELECT project, id, payload::text FROM attachments"
    " WHERE (project, id) > ($1, $2) ORDER BY project, id LIMIT $3"
)
REMOVE_UNCHANGED = (
    "DELETE FROM attachments a USING unnest($1::text[], $2::text[], $3::text[]) AS r(p, i, pl)"
    " WHERE a.project = r.p AND a.id = r.i AND a.payload::text = r.pl RETURNING a.project, a.id"
)
# A loose index scan: one descent of threads_by_time per project.
THREAD_PROJECTS = (
    "WITH RECURSIVE p AS (SELECT min(project) AS project FROM threads UNION ALL"
    " SELECT (SELECT min(project) FROM threads WHERE project > p.project) FROM p"
    " WHERE p.project IS NOT NULL) SELECT project FROM p WHERE project IS NOT NULL"
)
_THREAD_PAGE = (
    "SELECT id, created_us, seq FROM threads WHERE project = $1 AND created_us < $2"
    " AND (created_us, seq) > ($3, $4) ORDER BY created_us, seq LIMIT $5"
)
_INACTIVE = (
    "SELECT t FROM unnest($2::text[]) AS u(t) WHERE NOT EXISTS (SELECT 1 FROM items"
    " WHERE project = $1 AND thread_id = t AND created_us >= $3)"
)
LOCK_THREADS = (
    "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ' ' || t, 0))"
    " FROM (SELECT t FROM unnest($2::text[]) AS u(t) ORDER BY t) AS in_order"
)
DELETE_THREADS = (
    "WITH gone AS (DELETE FROM threads WHERE project = $1 AND id = ANY($2::text[]) RETURNING id),"
    " gone_items AS (DELETE FROM items WHERE project = $1 AND thread_id = ANY($2::text[])"
    " RETURNING 1),"
    " gone_feedback AS (DELETE FROM feedback WHERE project = $1 AND thread_id = ANY($2::text[])"
    " RETURNING 1),"
    " gone_attachments AS (DELETE FROM attachments WHERE project = $1"
    " AND thread_id = ANY($2::text[]) RETURNING id)"
    " SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM gone_items),"
    " (SELECT count(*) FROM gone_feedback), ARRAY(SELECT id FROM gone_attachments)"
)
COUNT_THREAD_ROWS = (
    "SELECT (SELECT count(*) FROM items WHERE project = $1 AND thread_id = ANY($2::text[])),"
    " (SELECT count(*) FROM feedback WHERE project = $1 AND thread_id = ANY($2::text[])),"
    " (SELECT count(*) FROM attachments WHERE project = $1 AND thread_id = ANY($2::text[]))"
)


class MaintenanceQueries:
    """The part of ``PostgresStore`` that prunes."""

    _pool: Pool

    async def prune_sessions(
        self, ended_before: int, cursor: Cursor | None, limit: int, *, dry_run: bool = False
    ) -> PruneStep:
        rows = await self._pool.run(
            lambda c: c.fetch(SESSION_PAGE, *(cursor or _START), limit), idempotent=True
        )
        due = [r for r in rows if min(r[2], r[3] or r[2]) < ended_before]
        projects, ids = [r[0] for r in due], [r[1] for r in due]
        last = (rows[-1][0], rows[-1][1]) if len(rows) == limit else None
        if dry_run or not due:
            requests = 0
            if due:
                requests = await self._pool.run(
                    lambda c: c.fetchval(COUNT_REQUESTS, projects, ids), idempotent=True
                )
            return PruneStep({"sessions": len(due), "rate_limit_rows": requests}, [], last)
        gone, requests = await self._pool.run(
            lambda c: c.fetchrow(DELETE_SESSIONS, projects, ids, ended_before), idempotent=True
        )
        return PruneStep({"sessions": gone, "rate_limit_rows": requests}, [], last)

    async def scan_attachments(
        self, cursor: Cursor | None, limit: int
    ) -> tuple[list[AttachmentRecord], Cursor | None]:
        rows = await self._pool.run(
            lambda c: c.fetch(ATTACHMENT_PAGE, *(cursor or _START), limit), idempotent=True
        )
        found = [AttachmentRecord(r[0], r[1], r[2]) for r in rows]
        return found, ((rows[-1][0], rows[-1][1]) if len(rows) == limit else None)

    async def remove_attachments_unchanged(
        self, records: Sequence[AttachmentRecord]
    ) -> list[AttachmentRecord]:
        if not records:
            return []
        args = ([r.project for r in records], [r.id for r in records], [r.payload for r in records])
        gone = await self._pool.run(lambda c: c.fetch(REMOVE_UNCHANGED, *args), idempotent=True)
        removed = {(r[0], r[1]) for r in gone}
        return [r for r in records if (r.project, r.id) in removed]

    async def thread_projects(self) -> list[str]:
        rows = await self._pool.run(lambda c: c.fetch(THREAD_PROJECTS), idempotent=True)
        return [r[0] for r in rows]

    async def prune_threads(
        self,
        project: str,
        inactive_before_us: int,
        cursor: Cursor | None,
        limit: int,
        *,
        dry_run: bool = False,
    ) -> PruneStep:
        after = cursor or (-(2**63), -1)

        async def work(conn: asyncpg.Connection) -> PruneStep:
            async with conn.transaction():
                page = _THREAD_PAGE + ("" if dry_run else " FOR UPDATE SKIP LOCKED")
                rows = await conn.fetch(page, project, inactive_before_us, *after, limit)
                last = (rows[-1][1], rows[-1][2]) if len(rows) == limit else None
                ids = [r[0] for r in rows]
                if not dry_run:
                    await conn.execute(LOCK_THREADS, project, ids)
                due = [r[0] for r in await conn.fetch(_INACTIVE, project, ids, inactive_before_us)]
                if dry_run or not due:
                    counts: Any = await conn.fetchrow(COUNT_THREAD_ROWS, project, due)
                    return PruneStep(_thread_counts(len(due), *counts), [], last)
                gone, items, feedback, files = await conn.fetchrow(DELETE_THREADS, project, due)
                return PruneStep(
                    _thread_counts(gone, items, feedback, len(files)),
                    [(project, f) for f in files],
                    last,
                )

        # Idempotent: run again, the deletes find only what is still there.
        return await self._pool.run(work, idempotent=True)


def _thread_counts(threads: int, items: int, feedback: int, attachments: int) -> dict[str, int]:
    return {"threads": threads, "items": items, "feedback": feedback, "attachments": attachments}
