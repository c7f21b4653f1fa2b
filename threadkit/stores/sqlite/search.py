"""Full-text search of threads on SQLite, over the FTS5 tables of migration 7.

Two plans, chosen by how many messages and titles match (counted up to
``FEW_MATCHES``, which costs little):

* few: the matching threads are collected from the indexes, then sorted and paged;
* many: the threads are read in the list's order, a chunk at a time, and each chunk is
  checked against the indexes with one query per run of nearby rowids (a query per
  thread or item would cost some 30 µs each, whatever its size): with common words a
  page is full after a chunk or two.

Either way the page is exact; only its cost differs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from threadkit.stores import keyset
from threadkit.stores.records import PageQuery, SearchQuery
from threadkit.stores.rows import THREAD_COLUMNS

from . import paging

#: matches (messages plus titles, of every project) up to which the matching threads are
#: collected and sorted; above, the threads are walked in order instead
FEW_MATCHES = 2_000
#: threads read in the first chunk of a walk; each next chunk is twice as big, up to
#: ``WALK_CHUNK_MAX``
WALK_CHUNK = 32
WALK_CHUNK_MAX = 1_024
#: rowids at most this far apart are checked by one range query
RUN_GAP = 512

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
_IN_RANGE = "SELECT rowid FROM {table} WHERE {table} MATCH ? AND rowid BETWEEN ? AND ?"


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
    where = " AND ".join([scope, *bounds])
    matches = conn.execute(_COUNT, (match, FEW_MATCHES, match, FEW_MATCHES)).fetchone()[0]
    if matches < FEW_MATCHES:
        rows = conn.execute(
            f"{_HITS} WHERE {where} ORDER BY threads.created_us {walk.direction},"
            f" threads.seq {walk.direction} LIMIT ?",
            [match, match, project, *args, *bound_params, query.limit + 1],
        ).fetchall()
    else:
        rows = _walk(conn, project, match, where, [*args, *bound_params], walk, query.limit + 1)
    return keyset.finish(rows, query.limit, walk.backwards)


def _walk(
    conn: sqlite3.Connection,
    project: str,
    match: str,
    where: str,
    params: list[Any],
    walk: keyset.Walk,
    wanted: int,
) -> list[tuple[Any, ...]]:
    """Up to ``wanted`` matching threads, reading the scope in order chunk by chunk."""
    direction = walk.direction
    beyond = "<" if direction == "DESC" else ">"
    found: list[tuple[Any, ...]] = []
    last: tuple[int, int] | None = None
    size = WALK_CHUNK
    while True:
        condition, extra = where, list(params)
        if last is not None:
            condition += f" AND (threads.created_us, threads.seq) {beyond} (?, ?)"
            extra += last
        chunk = conn.execute(
            f"SELECT threads.seq, threads.created_us, {THREAD_COLUMNS} FROM threads"
            f" WHERE {condition} ORDER BY threads.created_us {direction},"
            f" threads.seq {direction} LIMIT ?",
            [*extra, size],
        ).fetchall()
        hits = _matching(conn, project, match, chunk)
        for row in chunk:
            if row[0] in hits:
                found.append(row[2:])
                if len(found) == wanted:
                    return found
        if len(chunk) < size:
            return found
        last = (chunk[-1][1], chunk[-1][0])
        size = min(size * 2, WALK_CHUNK_MAX)


def _matching(
    conn: sqlite3.Connection, project: str, match: str, chunk: Sequence[tuple[Any, ...]]
) -> set[int]:
    """The seqs of the threads of ``chunk`` (rows starting with ``seq``) that match."""
    if not chunk:
        return set()
    seqs = [row[0] for row in chunk]
    hits = _in_runs(conn, "title_search", match, seqs)
    by_id = {row[2]: row[0] for row in chunk if row[0] not in hits}  # row[2]: its id
    if by_id:
        marks = ",".join("?" * len(by_id))
        owners = dict(
            conn.execute(
                f"SELECT seq, thread_id FROM items WHERE project = ? AND thread_id IN ({marks})",
                [project, *by_id],
            ).fetchall()
        )
        for item in _in_runs(conn, "item_search", match, owners):
            hits.add(by_id[owners[item]])
    return hits


def _in_runs(conn: sqlite3.Connection, table: str, match: str, rowids: Iterable[int]) -> set[int]:
    """Those of ``rowids`` whose row of ``table`` matches: one range query per run of
    rowids at most ``RUN_GAP`` apart."""
    wanted = sorted(rowids)
    hits: set[int] = set()
    sql = _IN_RANGE.format(table=table)
    start = 0
    for end in range(1, len(wanted) + 1):
        if end == len(wanted) or wanted[end] - wanted[end - 1] > RUN_GAP:
            low, high = wanted[start], wanted[end - 1]
            hits.update(r[0] for r in conn.execute(sql, (match, low, high)))
            start = end
    return hits.intersection(wanted)
