"""Full-text search of threads on SQLite, over the FTS5 tables of migration 7.

Two plans, chosen by how many messages and titles match (counted up to
``FEW_MATCHES``, which costs little):

* few: the matching threads are collected from the indexes, then sorted and paged;
* many: the threads are walked in the list's order and each is checked against the
  indexes (a look-up by rowid per title and per item), which reaches a page after
  a few dozen threads when the words are common.

Either way the page is exact; only its cost differs.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from threadkit.stores import keyset
from threadkit.stores.records import PageQuery, SearchQuery
from threadkit.stores.rows import THREAD_COLUMNS

from . import paging

#: matches (messages plus titles, of every project) up to which the matching threads are
#: collected and sorted; above, the threads are walked in order instead
FEW_MATCHES = 2_000

_COUNT = (
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM item_search WHERE item_search MATCH ?"
    " LIMIT ?)) + (SELECT count(*) FROM (SELECT 1 FROM title_search"
    " WHERE title_search MATCH ? LIMIT ?))"
)
# CROSS JOIN fixes the join order: from the index's matches to the rows they name.
_HITS = (
    "WITH hits(hit) AS MATERIALIZED ("
    "SELECT rowid FROM title_search WHERE title_search MATCH ?"
    " UNION SELECT owner.seq FROM item_search CROSS JOIN items AS i ON i.seq = item_search.rowid"
    " CROSS JOIN threads AS owner ON owner.project = i.project AND owner.id = i.thread_id"
    " WHERE item_search MATCH ? AND i.project = ?)"
    f" SELECT {THREAD_COLUMNS} FROM hits CROSS JOIN threads ON threads.seq = hits.hit"
)
_MATCHES = (
    "(EXISTS (SELECT 1 FROM title_search WHERE title_search MATCH ?"
    " AND title_search.rowid = threads.seq)"
    " OR EXISTS (SELECT 1 FROM items AS i CROSS JOIN item_search ON item_search.rowid = i.seq"
    " WHERE i.project = threads.project AND i.thread_id = threads.id AND item_search MATCH ?))"
)


def fts_query(search: SearchQuery) -> str:
    """The FTS5 query for ``search``: every word as a quoted string (FTS5 cuts it into
    tokens as it cut the text), the last one a prefix if asked."""
    terms = ['"' + word.replace('"', '""') + '"' for word in search.words]
    if search.prefix and terms:
        terms[-1] += "*"
    return " ".join(terms)


def search_page(
    conn: sqlite3.Connection,
    project: str,
    search: SearchQuery,
    query: PageQuery,
    user: str | None,
) -> tuple[list[tuple[Any, ...]], bool]:
    """One page of the threads matching ``search`` (``ThreadStore.search_threads``)."""
    scope = "threads.project = ?" + (" AND threads.user_id = ?" if user is not None else "")
    args: tuple[Any, ...] = (project, user) if user is not None else (project,)
    after, before = paging.positions(conn, "threads", scope, args, query)
    if not search.words:
        return [], False
    match = fts_query(search)
    walk = keyset.walk(query.order, after is not None, before is not None)
    bounds, bound_params = paging.bounded(walk, after, before, "threads.")
    order = f" ORDER BY threads.created_us {walk.direction}, threads.seq {walk.direction} LIMIT ?"
    where = " AND ".join([scope, *bounds])
    matches = conn.execute(_COUNT, (match, FEW_MATCHES, match, FEW_MATCHES)).fetchone()[0]
    if matches < FEW_MATCHES:
        sql = f"{_HITS} WHERE {where}{order}"
        params = [match, match, project, *args, *bound_params, query.limit + 1]
    else:
        sql = f"SELECT {THREAD_COLUMNS} FROM threads WHERE {where} AND {_MATCHES}{order}"
        params = [*args, *bound_params, match, match, query.limit + 1]
    rows = conn.execute(sql, params).fetchall()
    return keyset.finish(rows, query.limit, walk.backwards)
