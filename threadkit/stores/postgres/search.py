"""Full-text search of threads on PostgreSQL, over ``search_documents`` (migration 6).

One statement per page: the threads of the scope, in the list's order, that have a
document (their title, or one of their messages) matching the query. The planner
chooses between starting from the GIN index (few matches) and walking the threads in
order with a look-up per thread (common words), from the statistics of the vectors.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from threadkit.stores import keyset
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import PageQuery, SearchQuery
from threadkit.stores.rows import THREAD_COLUMNS

from .connections import Pool, names_nothing

_MATCHES = (
    "EXISTS (SELECT 1 FROM search_documents AS d WHERE d.project = threads.project"
    " AND d.thread_id = threads.id AND d.vector @@ to_tsquery('simple', ${}))"
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
        params.append(query)
        where.append(_MATCHES.format(len(params)))
        params.append(page.limit + 1)
        rows = await conn.fetch(
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE {' AND '.join(where)}"
            f" ORDER BY created_us {walk.direction}, seq {walk.direction} LIMIT ${len(params)}",
            *params,
        )
        return keyset.finish(rows, page.limit, walk.backwards)

    return await pool.run(work, idempotent=True)
