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
    sql, params, backwards = _statement(conn, table, columns, scope, args, query)
    return keyset.finish(conn.execute(sql, params).fetchall(), query.limit, backwards)


def joined_page(
    conn: sqlite3.Connection,
    table: str,
    columns: str,
    aggregates: str,
    scope: str,
    args: tuple[Any, ...],
    query: PageQuery,
) -> tuple[tuple[Any, ...], bool]:
    """``aggregates`` (``count(*)``, ``group_concat(...)``, ...) of ``columns`` over the
    ``limit + 1`` rows a page's walk reads, in the walk's order, and whether the walk
    reads backwards (``keyset``): one row back whatever the page's size."""
    sql, params, backwards = _statement(conn, table, columns, scope, args, query)
    return conn.execute(joined(aggregates, sql), params).fetchone(), backwards


def _statement(
    conn: sqlite3.Connection,
    table: str,
    columns: str,
    scope: str,
    args: tuple[Any, ...],
    query: PageQuery,
) -> tuple[str, list[Any], bool]:
    """The statement reading a page's ``limit + 1`` rows, its parameters, and whether it
    reads backwards."""
    if query.after is None and query.before is None:  # most pages: the statement made once
        return first_page(table, columns, scope, query.order), [*args, query.limit + 1], False
    after, before = positions(conn, table, scope, args, query)
    walk = keyset.walk(query.order, after is not None, before is not None)
    bounds, params = bounded(walk, after, before)
    sql = (
        f"SELECT {columns} FROM {table} WHERE {' AND '.join([scope, *bounds])}"
        f" ORDER BY created_us {walk.direction}, seq {walk.direction} LIMIT ?"
    )
    return sql, [*args, *params, query.limit + 1], walk.backwards


@lru_cache(maxsize=64)
def first_page(table: str, columns: str, scope: str, order: Order) -> str:
    """The statement of a page without cursors (its arguments: ``scope``'s, the limit)."""
    direction = keyset.walk(order, False, False).direction
    return (
        f"SELECT {columns} FROM {table} WHERE {scope}"
        f" ORDER BY created_us {direction}, seq {direction} LIMIT ?"
    )


@lru_cache(maxsize=64)
def joined(aggregates: str, sql: str) -> str:
    """``aggregates`` over the rows of the page statement ``sql``, in their order."""
    # SQLite aggregates the rows of a subquery with ORDER BY and LIMIT in its order
    # (the subquery is not flattened into an aggregate); the store contract tests check
    # every order and cursor against the plain page.
    return f"SELECT {aggregates} FROM ({sql})"
