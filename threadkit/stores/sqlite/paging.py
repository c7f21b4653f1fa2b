"""Keyset pages of a SQLite table (the walk itself is ``threadkit.stores.keyset``)."""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import Any

from threadkit.stores import keyset
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import Order, PageQuery

Position = tuple[int, int]


def positions(
    conn: sqlite3.Connection, table: str, scope: str, args: tuple[Any, ...], query: PageQuery
) -> tuple[Position | None, Position | None]:
    """The ``(created_us, seq)`` of the ``after`` and ``before`` cursors among the rows of
    ``table`` matching ``scope``; ``CursorNotFound`` for a cursor that names none."""

    def position(param: str, value: str) -> Position:
        r = conn.execute(
            f"SELECT created_us, seq FROM {table} WHERE {scope} AND id = ?", (*args, value)
        ).fetchone()
        if r is None:
            raise CursorNotFound(param, value)
        return r[0], r[1]

    after = position("after", query.after) if query.after is not None else None
    before = position("before", query.before) if query.before is not None else None
    return after, before


def bounded(
    walk: keyset.Walk, after: Position | None, before: Position | None, prefix: str = ""
) -> tuple[list[str], list[Any]]:
    """The conditions (on ``prefix``-qualified columns) and parameters that bound a page."""
    where: list[str] = []
    params: list[Any] = []
    for _, op, at in keyset.bounds(walk, after, before):
        where.append(f"({prefix}created_us, {prefix}seq) {op} (?, ?)")
        params.extend(at)
    return where, params


def page(
    conn: sqlite3.Connection,
    table: str,
    columns: str,
    scope: str,
    args: tuple[Any, ...],
    query: PageQuery,
) -> tuple[list[tuple[Any, ...]], bool]:
    """One page of the rows of ``table`` matching ``scope`` in (created_us, seq) order.

    A cursor's position is looked up first, so an unknown one raises ``CursorNotFound``.
    """
    if query.after is None and query.before is None:  # most pages: the statement made once
        rows = conn.execute(
            _first_page(table, columns, scope, query.order), [*args, query.limit + 1]
        ).fetchall()
        return keyset.finish(rows, query.limit, False)
    after, before = positions(conn, table, scope, args, query)
    walk = keyset.walk(query.order, after is not None, before is not None)
    bounds, params = bounded(walk, after, before)
    rows = conn.execute(
        f"SELECT {columns} FROM {table} WHERE {' AND '.join([scope, *bounds])}"
        f" ORDER BY created_us {walk.direction}, seq {walk.direction} LIMIT ?",
        [*args, *params, query.limit + 1],
    ).fetchall()
    return keyset.finish(rows, query.limit, walk.backwards)


@lru_cache(maxsize=64)
def _first_page(table: str, columns: str, scope: str, order: Order) -> str:
    """The statement of a page without cursors (its arguments: ``scope``'s, the limit)."""
    direction = keyset.walk(order, False, False).direction
    return (
        f"SELECT {columns} FROM {table} WHERE {scope}"
        f" ORDER BY created_us {direction}, seq {direction} LIMIT ?"
    )
