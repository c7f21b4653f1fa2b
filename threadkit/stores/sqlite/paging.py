"""Keyset pages of a SQLite table (the walk itself is ``threadkit.stores.keyset``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from threadkit.stores import keyset
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import PageQuery


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

    def position(param: str, value: str) -> tuple[int, int]:
        r = conn.execute(
            f"SELECT created_us, seq FROM {table} WHERE {scope} AND id = ?", (*args, value)
        ).fetchone()
        if r is None:
            raise CursorNotFound(param, value)
        return r[0], r[1]

    after = position("after", query.after) if query.after is not None else None
    before = position("before", query.before) if query.before is not None else None
    walk = keyset.walk(query.order, after is not None, before is not None)
    where = [scope]
    params: list[Any] = list(args)
    for _, op, at in keyset.bounds(walk, after, before):
        where.append(f"(created_us, seq) {op} (?, ?)")
        params.extend(at)
    params.append(query.limit + 1)
    rows = conn.execute(
        f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)}"
        f" ORDER BY created_us {walk.direction}, seq {walk.direction} LIMIT ?",
        params,
    ).fetchall()
    return keyset.finish(rows, query.limit, walk.backwards)
