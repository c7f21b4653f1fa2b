"""Full-text search of threads on PostgreSQL, over ``search_documents`` (migration 6).

Two steps, in one transaction:

1. the first ``WALK`` threads of the page, in the list's order, are checked one by one
   (a look-up of each thread's documents by key): with common words the page is full
   here, after a few dozen threads;
2. when it is not, the words are not common: the rest of the page comes from the GIN
   index (every matching document's thread, each looked up by key, then sorted and
   paged).

The plans are fixed this way rather than left to the planner: its estimate for a
prefix (``refu:*``) is a constant that makes a rare prefix look common, and walking
every thread for a rare word is the one plan that must never be chosen.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from threadkit.stores import keyset
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import PageQuery, SearchQuery
from threadkit.stores.rows import THREAD_COLUMNS

from .connections import Pool, names_nothing

#: threads checked in order before the index is asked
WALK = 200

# A scalar subquery, not EXISTS: the planner may turn EXISTS into a join, and with a
# prefix's estimate it then scans every document (a hash join) instead of looking up
# the walked threads' documents by key.
_MATCHES = (
    "(SELECT true FROM search_documents AS d WHERE d.project = walked.project"
    " AND d.thread_id = walked.id AND d.vector @@ to_tsquery('simple', ${}) LIMIT 1)"
)


# For this transaction only. The planner's estimate for a prefix is some 200,000
# documents where a rare one matches a few: it would scan every document, or compile the
# plan (JIT, 35 ms) and start parallel workers (60 ms) for a look-up of a millisecond.
_SETTINGS = (
    "SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true),"
    " set_config('max_parallel_workers_per_gather', '0', true)"
)


def ts_query(search: SearchQuery) -> str:
    """The ``to_tsquery`` text for ``search``: the words quoted and joined by ``&``, the
    last one with ``:*`` (a prefix) if asked."""
    terms = ["'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in search.words]
    if search.prefix and terms:
        terms[-1] += ":*"
    return " & ".join(terms)


async def search_page(
    pool: Pool, project: str, search: SearchQuery, page: PageQuery, user: str | None
) -> tuple[list[asyncpg.Record], bool]:
    """One page of the threads matching ``search`` (``ThreadStore.search_threads``)."""
    scope = "project = $1" + (" AND user_id = $2" if user is not None else "")
    args: list[Any] = [project] if user is None else [project, user]
    cursors = [(p, v) for p, v in (("after", page.after), ("before", page.before)) if v]
    for param, value in cursors:
        if names_nothing(value):
            raise CursorNotFound(param, value)
    if names_nothing(*args):
        if cursors:
            raise CursorNotFound(*cursors[0])
        return [], False
    position_sql = f"SELECT created_us, seq FROM threads WHERE {scope} AND id = ${len(args) + 1}"
    query = ts_query(search)
    wanted = page.limit + 1

    async def work(conn: asyncpg.Connection) -> tuple[list[asyncpg.Record], bool]:
        found: dict[str, tuple[int, int]] = {}
        for param, value in cursors:
            r = await conn.fetchrow(position_sql, *args, value)
            if r is None:
                raise CursorNotFound(param, value)
            found[param] = (r[0], r[1])
        if not query:
            return [], False
        walk = keyset.walk(page.order, "after" in found, "before" in found)
        where = [scope]
        params = list(args)
        for _, op, at in keyset.bounds(walk, found.get("after"), found.get("before")):
            params.extend(at)
            where.append(f"(created_us, seq) {op} (${len(params) - 1}, ${len(params)})")
        order = f"ORDER BY created_us {walk.direction}, seq {walk.direction}"
        scoped = " AND ".join(where)
        async with conn.transaction():
            await conn.execute(_SETTINGS)
            # Planned as a scan of the ordered subquery, so the look-ups stop once the
            # page is full.
            rows = await conn.fetch(
                f"SELECT {THREAD_COLUMNS} FROM (SELECT seq, project, {THREAD_COLUMNS}"
                f" FROM threads WHERE {scoped} {order} LIMIT ${len(params) + 1}) AS walked"
                f" WHERE {_MATCHES.format(len(params) + 2)} IS NOT NULL {order}"
                f" LIMIT ${len(params) + 3}",
                *params,
                WALK,
                query,
                wanted,
            )
            if len(rows) == wanted:
                return keyset.finish(rows, page.limit, walk.backwards)
            last = await conn.fetchrow(
                f"SELECT created_us, seq FROM threads WHERE {scoped} {order}"
                f" LIMIT 1 OFFSET ${len(params) + 1}",
                *params,
                WALK - 1,
            )
            if last is None:  # the walk saw every thread of the page's scope
                return keyset.finish(rows, page.limit, walk.backwards)
            # The rest from the index.
            beyond = "<" if walk.direction == "DESC" else ">"
            params += [last[0], last[1]]
            # Each matching thread looked up by its key (LATERAL ... OFFSET 0 is never made
            # a join): planned as a join, the prefix's estimate of some 100,000 threads
            # made it hash every thread of the project (1.2 s for a rare word at
            # 1,000,000 threads).
            rest = await conn.fetch(
                "WITH hits AS MATERIALIZED (SELECT DISTINCT thread_id FROM search_documents"
                f" WHERE project = $1 AND vector @@ to_tsquery('simple', ${len(params) + 1}))"
                f" SELECT {THREAD_COLUMNS} FROM hits CROSS JOIN LATERAL"
                f" (SELECT seq, {THREAD_COLUMNS} FROM threads WHERE {scoped}"
                f" AND id = hits.thread_id AND (created_us, seq) {beyond}"
                f" (${len(params) - 1}, ${len(params)}) OFFSET 0) AS found"
                f" {order} LIMIT ${len(params) + 2}",
                *params,
                query,
                wanted - len(rows),
            )
        return keyset.finish([*rows, *rest], page.limit, walk.backwards)

    return await pool.run(work, idempotent=True)
