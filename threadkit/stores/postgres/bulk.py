"""Bulk import on PostgreSQL: arrays in, one statement per batch, one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

import asyncpg

from threadkit.stores.errors import DuplicateId
from threadkit.stores.records import ItemRow, ThreadRow
from threadkit.stores.rows import items_params, threads_params

from . import queries as q
from . import search_backlog
from .connections import Pool

R = TypeVar("R")

#: rows per statement when importing
IMPORT_BATCH = 5_000
#: an import's insert, answering the first and last seq it gave
_ADDED = "WITH added AS ({} RETURNING seq) SELECT min(seq), max(seq) FROM added"


async def import_rows(
    pool: Pool,
    project: str,
    threads: Sequence[ThreadRow],
    items: Sequence[ItemRow],
    *,
    search_later: bool = True,
) -> None:
    """``ThreadStore.import_rows``: all or nothing, ``DuplicateId`` naming the first id taken.
    Indexed for search later (the search backlog), or at once unless ``search_later``."""

    async def work(conn: asyncpg.Connection) -> None:
        table = "threads"
        try:
            async with conn.transaction():
                if search_later:
                    await conn.execute(search_backlog.LATER)
                # Only threads that already exist can have concurrent appenders; the
                # new ones are invisible until commit. One lock per new thread would
                # exhaust the lock table on a big import ("out of shared memory").
                new = {t.id for t in threads}
                existing = sorted({r.thread_id for r in items} - new)
                if existing:
                    await conn.execute(q.IMPORT_LOCK_THREADS.sql, project, existing)
                added: dict[str, tuple[int, int]] = {}

                async def insert(name: str, sql: str, params: list[tuple[object, ...]]) -> None:
                    # The rows' parameters, column by column, after the project.
                    if not search_later:
                        await conn.execute(sql, project, *columns(params))
                        return
                    first, last = await conn.fetchrow(_ADDED.format(sql), project, *columns(params))
                    # seq only grows within the transaction: one range a table
                    added[name] = (added.get(name, (first, last))[0], last)

                for batch in _batches(threads):
                    await insert("threads", q.IMPORT_THREADS.sql, threads_params(project, batch))
                table = "items"
                for batch in _batches(items):
                    await insert("items", q.IMPORT_ITEMS.sql, items_params(project, batch))
                for name, (first, last) in added.items():
                    await conn.execute(search_backlog.RECORD, name, first, last)
        except asyncpg.UniqueViolationError:
            rows: Sequence[ThreadRow | ItemRow] = threads if table == "threads" else items
            taken = await first_taken(conn, project, table, rows)
            raise DuplicateId(table.rstrip("s"), taken) from None

    await pool.run(work, idempotent=False)


async def append_items(pool: Pool, project: str, thread_id: str, items: Sequence[ItemRow]) -> bool:
    """``ThreadStore.append_items``: under the thread's lock, as every append is, so ``seq``
    stays commit order within the thread; ``False`` when the thread is not stored."""

    async def work(conn: asyncpg.Connection) -> bool:
        try:
            async with conn.transaction():
                await conn.execute(q.LOCK_THREAD.sql, project, thread_id)
                if await conn.fetchval(q.THREAD_EXISTS.sql, project, thread_id) is None:
                    return False
                for batch in _batches(items):
                    await conn.execute(
                        q.IMPORT_ITEMS.sql, project, *columns(items_params(project, batch))
                    )
        except asyncpg.UniqueViolationError:
            raise DuplicateId("item", await first_taken(conn, project, "items", items)) from None
        return True

    return await pool.run(work, idempotent=False)


def columns(params: list[tuple[object, ...]]) -> list[list[object]]:
    """Rows of parameters as one array per column, without the first (the project)."""
    return [list(column) for column in zip(*params, strict=True)][1:]


def _batches(rows: Sequence[R]) -> Iterator[Sequence[R]]:
    for start in range(0, len(rows), IMPORT_BATCH):
        yield rows[start : start + IMPORT_BATCH]


async def first_taken(
    conn: asyncpg.Connection, project: str, table: str, rows: Sequence[ThreadRow | ItemRow]
) -> str:
    """The first id of ``rows`` already stored, or repeated among ``rows``."""
    stored = {
        r[0]
        for r in await conn.fetch(
            f"SELECT id FROM {table} WHERE project = $1 AND id = ANY($2::text[])",
            project,
            [row.id for row in rows],
        )
    }
    seen: set[str] = set()
    for row in rows:
        if row.id in seen or row.id in stored:
            return row.id
        seen.add(row.id)
    return rows[0].id if rows else ""
