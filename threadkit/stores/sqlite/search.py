"""Full-text search of threads on SQLite, over the FTS5 tables of migration 7.

How many messages and titles match is counted first, up to ``FEW_MATCHES`` (cheap; for
a prefix, its whole word first, see ``_many``):

* few: the matching threads are collected from the indexes, then sorted and paged;
* many: the first ``WALK`` threads of the page are read in the list's order and their
  titles and messages checked here, in Python, as the indexes cut and fold words
  (``SearchQuery.matches``); with common words the page is full after a few dozen
  threads. If it is not, the rest comes from the indexes as for few matches.

Why the walk does not ask the index: FTS5 (3.40) answers a prefix (``"refu"*``) by
merging the whole list of the matching terms' rows first, whatever else bounds the
query: about 130 ms for a common word at 10,000,000 messages, for every query. A
query per thread or per chunk of threads made a common prefix take seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from threadkit.stores import keyset
from threadkit.stores.records import PageQuery, SearchQuery, searched_text
from threadkit.stores.rows import THREAD_COLUMNS

from . import paging

#: matches (messages plus titles, of every project) up to which the matching threads are
#: collected and sorted; above, the threads are walked in order first
FEW_MATCHES = 2_000
#: threads checked in order before the index is asked
WALK = 256
#: threads read at a time while walking (the first chunk; each next one twice as big)
WALK_CHUNK = 32

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
_MESSAGES = (
    "SELECT thread_id, payload FROM items WHERE project = ? AND thread_id IN ({})"
    " AND rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')"
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
    where, params = " AND ".join([scope, *bounds]), [*args, *bound_params]
    wanted = query.limit + 1
    rows: list[tuple[Any, ...]] = []
    if _many(conn, search, match):
        rows, last = _walk(conn, project, search, where, params, walk, wanted)
        if len(rows) == wanted or last is None:
            return keyset.finish(rows, query.limit, walk.backwards)
        beyond = "<" if walk.direction == "DESC" else ">"
        where += f" AND (threads.created_us, threads.seq) {beyond} (?, ?)"
        params += last
    rows += conn.execute(
        f"{_HITS} WHERE {where} ORDER BY threads.created_us {walk.direction},"
        f" threads.seq {walk.direction} LIMIT ?",
        [match, match, project, *params, wanted - len(rows)],
    ).fetchall()
    return keyset.finish(rows, query.limit, walk.backwards)


def _many(conn: sqlite3.Connection, search: SearchQuery, match: str) -> bool:
    """Whether at least ``FEW_MATCHES`` messages and titles match. A prefix's matches
    include its whole word's: those are counted first, as FTS5 reads a word's rows in
    order and stops at the limit, where for a prefix it merges every row of every
    matching word first (130 ms for a common word at 10,000,000 messages)."""
    if search.prefix:
        whole = fts_query(SearchQuery(search.words))
        if _count(conn, whole) >= FEW_MATCHES:
            return True
    return _count(conn, match) >= FEW_MATCHES


def _count(conn: sqlite3.Connection, match: str) -> int:
    count: int = conn.execute(_COUNT, (match, FEW_MATCHES, match, FEW_MATCHES)).fetchone()[0]
    return count


def _walk(
    conn: sqlite3.Connection,
    project: str,
    search: SearchQuery,
    where: str,
    params: list[Any],
    walk: keyset.Walk,
    wanted: int,
) -> tuple[list[tuple[Any, ...]], tuple[int, int] | None]:
    """Up to ``wanted`` matching threads among the first ``WALK`` of the scope, and the
    position of the last thread read (``None``: the scope held no more)."""
    direction = walk.direction
    beyond = "<" if direction == "DESC" else ">"
    found: list[tuple[Any, ...]] = []
    last: tuple[int, int] | None = None
    read = 0
    size = WALK_CHUNK
    while read < WALK:
        condition, extra = where, list(params)
        if last is not None:
            condition += f" AND (threads.created_us, threads.seq) {beyond} (?, ?)"
            extra += last
        size = min(size, WALK - read)
        chunk = conn.execute(
            f"SELECT threads.seq, {THREAD_COLUMNS} FROM threads WHERE {condition}"
            f" ORDER BY threads.created_us {direction}, threads.seq {direction} LIMIT ?",
            [*extra, size],
        ).fetchall()
        hits = _matching(conn, project, search, chunk)
        for row in chunk:
            if row[1] in hits:  # row[1]: the thread's id
                found.append(row[1:])
                if len(found) == wanted:
                    return found, None
        if len(chunk) < size:
            return found, None
        read += len(chunk)
        last = (chunk[-1][3], chunk[-1][0])  # (created_us, seq)
        size *= 2
    return found, last


def _matching(
    conn: sqlite3.Connection, project: str, search: SearchQuery, chunk: Sequence[tuple[Any, ...]]
) -> set[str]:
    """The ids of the threads of ``chunk`` whose title or one of whose messages matches."""
    hits = {row[1] for row in chunk if row[4] is not None and search.matches(row[4])}
    rest = [row[1] for row in chunk if row[1] not in hits]
    if rest:
        sql = _MESSAGES.format(",".join("?" * len(rest)))
        for thread_id, payload in conn.execute(sql, [project, *rest]):
            if thread_id not in hits and search.matches(searched_text(payload)):
                hits.add(thread_id)
    return hits
