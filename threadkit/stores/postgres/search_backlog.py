"""The rows a bulk import left out of the search index (migration 8), and their indexing.

A range ``(tbl, first_seq, last_seq)`` names rows of ``threads`` or ``items`` whose
documents may be missing from ``search_documents``; seqs of other transactions' rows in
it are indexed already, so documents are added ``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import asyncpg

from .connections import Pool

#: for the transaction of a bulk import: the insert triggers leave the rows to the backlog
LATER = "SET LOCAL threadkit.search_later = 'on'"
RECORD = "INSERT INTO search_backlog VALUES ($1, $2, $3)"

_TAKE = (
    "SELECT tbl, first_seq, last_seq FROM search_backlog ORDER BY tbl, first_seq"
    " LIMIT 1 FOR UPDATE SKIP LOCKED"
)
_DOCUMENTS = {
    "threads": "INSERT INTO search_documents (project, thread_id, item_seq, vector)"
    " SELECT project, id, 0, vector FROM ("
    " SELECT project, id, threadkit_search_vector(title) AS vector FROM threads"
    " WHERE seq BETWEEN $1 AND $2) AS documents WHERE vector <> ''::tsvector"
    " ON CONFLICT DO NOTHING",
    "items": "INSERT INTO search_documents (project, thread_id, item_seq, vector)"
    " SELECT project, thread_id, seq, vector FROM ("
    " SELECT i.project, i.thread_id, i.seq, threadkit_search_vector(t.body) AS vector"
    " FROM items AS i CROSS JOIN LATERAL threadkit_item_text(i.payload) AS t"
    " WHERE i.seq BETWEEN $1 AND $2"
    " AND i.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')"
    ") AS documents WHERE vector <> ''::tsvector ON CONFLICT DO NOTHING",
}


async def index_some(pool: Pool, limit: int) -> int:
    """``ThreadStore.index_search_backlog``: the first range no other process holds."""

    async def work(conn: asyncpg.Connection) -> int:
        async with conn.transaction():
            found = await conn.fetchrow(_TAKE)
            if found is None:
                return 0
            table, first, last = found
            end = min(last, first + limit - 1)
            await conn.execute(_DOCUMENTS[table], first, end)
            if end == last:
                await conn.execute(
                    "DELETE FROM search_backlog WHERE tbl = $1 AND first_seq = $2", table, first
                )
            else:
                await conn.execute(
                    "UPDATE search_backlog SET first_seq = $1 WHERE tbl = $2 AND first_seq = $3",
                    end + 1,
                    table,
                    first,
                )
            return end - first + 1

    return await pool.run(work, idempotent=True)


async def waiting(pool: Pool) -> int:
    """``ThreadStore.search_backlog``."""

    async def work(conn: asyncpg.Connection) -> int:
        return await conn.fetchval(
            "SELECT coalesce(sum(last_seq - first_seq + 1), 0)::bigint FROM search_backlog"
        )

    return await pool.run(work, idempotent=True)
