"""The rows a bulk import left out of the search index (migration 8), and their indexing.

A range ``(tbl, first_seq, last_seq)`` names rows of ``threads`` or ``items`` not yet in
the FTS5 tables. Kept free of heavy imports: the bulk import's helper process uses it.
"""

from __future__ import annotations

import sqlite3

_FTS = {
    "threads": ("title_search", "title_search_text"),
    "items": ("item_search", "item_search_text"),
}


def cut(conn: sqlite3.Connection, table: str, highest: int) -> None:
    """Drops what the ranges of ``table`` name above ``highest``, the table's highest seq
    before an insert: rows that were deleted, whose seqs a new row may take again."""
    if conn.execute(
        "UPDATE search_backlog SET last_seq = ? WHERE tbl = ? AND last_seq > ?",
        (highest, table, highest),
    ).rowcount:
        conn.execute("DELETE FROM search_backlog WHERE tbl = ? AND first_seq > last_seq", (table,))


def record(conn: sqlite3.Connection, table: str, first: int, last: int) -> None:
    """Adds the rows ``first..last`` of ``table`` (an import's batch), to the range that
    ends right before them when there is one: an import leaves one range a table."""
    if not conn.execute(
        "UPDATE search_backlog SET last_seq = ? WHERE tbl = ? AND last_seq = ?",
        (last, table, first - 1),
    ).rowcount:
        conn.execute("INSERT INTO search_backlog VALUES (?, ?, ?)", (table, first, last))


def index_some(conn: sqlite3.Connection, limit: int) -> int:
    """Indexes the rows of up to ``limit`` seqs of the first range, in the caller's
    transaction; how many seqs it covered (0: nothing waits)."""
    found = conn.execute(
        "SELECT tbl, first_seq, last_seq FROM search_backlog ORDER BY tbl, first_seq LIMIT 1"
    ).fetchone()
    if found is None:
        return 0
    table, first, last = found
    end = min(last, first + limit - 1)
    fts, text = _FTS[table]
    conn.execute(
        f"INSERT INTO {fts} (rowid, body) SELECT seq, body FROM {text} WHERE seq BETWEEN ? AND ?",
        (first, end),
    )
    if end == last:
        conn.execute("DELETE FROM search_backlog WHERE tbl = ? AND first_seq = ?", (table, first))
    else:
        conn.execute(
            "UPDATE search_backlog SET first_seq = ? WHERE tbl = ? AND first_seq = ?",
            (end + 1, table, first),
        )
    return end - first + 1


def waiting(conn: sqlite3.Connection) -> int:
    """How many seqs the ranges name (rows deleted since included)."""
    return conn.execute(
        "SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM search_backlog"
    ).fetchone()[0]
