"""What ``threadkit sync`` keeps between runs, on PostgreSQL (migration 4)."""

from __future__ import annotations

import asyncpg

from threadkit.stores.errors import DuplicateId
from threadkit.stores.records import SyncBatch
from threadkit.stores.rows import items_params, thread_params

from . import queries as q
from .bulk import columns, first_taken
from .connections import Pool


async def apply(pool: Pool, project: str, batch: SyncBatch) -> None:
    """``ThreadStore.apply_sync``: one transaction under the thread's lock."""

    async def work(conn: asyncpg.Connection) -> None:
        try:
            async with conn.transaction():
                await conn.execute(q.LOCK_THREAD.sql, project, batch.thread_id)
                if batch.thread is not None:
                    params = thread_params(project, batch.thread)
                    if await conn.fetchrow(q.UPSERT_THREAD.sql, *params) is None:
                        raise DuplicateId("thread", batch.thread.id)
                if batch.items:
                    params = items_params(project, batch.items)
                    await conn.execute(q.IMPORT_ITEMS.sql, project, *columns(params))
                if batch.cursor is not None:
                    await conn.execute(
                        q.PUT_SYNC_CURSOR.sql, project, batch.thread_id, batch.cursor
                    )
        except asyncpg.UniqueViolationError:
            taken = await first_taken(conn, project, "items", batch.items)
            raise DuplicateId("item", taken) from None

    await pool.run(work, idempotent=False)


async def cursors(pool: Pool, project: str, thread_ids: list[str]) -> dict[str, str]:
    rows = await pool.fetch(q.SYNC_CURSORS, project, thread_ids)
    return {r[0]: r[1] for r in rows}


async def resume_point(pool: Pool, project: str, source: str, user: str | None) -> str | None:
    r = await pool.fetchrow(q.SYNC_RESUME_POINT, project, source, user or "")
    return r[0] if r is not None else None


async def set_resume_point(
    pool: Pool, project: str, source: str, user: str | None, thread_id: str | None
) -> None:
    if thread_id is None:
        await pool.write(q.CLEAR_SYNC_RESUME_POINT, project, source, user or "")
    else:
        await pool.write(q.SET_SYNC_RESUME_POINT, project, source, user or "", thread_id)
