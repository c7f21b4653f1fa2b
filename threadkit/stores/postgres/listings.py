"""Keyset-paged lists on PostgreSQL: which rows each list holds, and its page queries
(the walk itself is ``threadkit.stores.keyset``)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from threadkit.stores import keyset
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import (
    ItemText,
    Order,
    PageQuery,
    ThreadItemsPage,
    ThreadsText,
    forward_only,
)
from threadkit.stores.rows import ITEM_COLUMNS, THREAD_COLUMNS

from . import queries as q
from .connections import Pool, names_nothing
from .queries import Query


@dataclass(frozen=True, slots=True)
class Listing:
    """A keyset-paged list: the rows of ``table`` matching ``scope``, in (created_us, seq)
    order. ``scope`` uses ``$1..$k``, named by ``scope_params``."""

    name: str
    table: str
    columns: str
    scope: str
    scope_params: tuple[str, ...]

    def cursor(self) -> Query:
        """Whether an id is in the list (asked only when a page with a cursor is empty)."""
        n = len(self.scope_params)
        return Query(
            f"SELECT 1 FROM {self.table} WHERE {self.scope} AND id = ${n + 1}",
            (*self.scope_params, "cursor_id"),
        )

    def page(self, order: Order, after: bool, before: bool) -> Query:
        return _page_query(self, order, after, before)


@functools.cache
def _page_query(listing: Listing, order: Order, after: bool, before: bool) -> Query:
    # A cursor's position is looked up inside the page query (an InitPlan the index
    # condition uses), so a deep page costs one round trip like the first; an unknown
    # cursor compares as NULL and yields no rows, which `cursor()` then tells apart
    # from the end of the list.
    walk = keyset.walk(order, after, before)
    where = [listing.scope]
    params = list(listing.scope_params)
    for name, op, _ in keyset.bounds(walk, after or None, before or None):
        params.append(f"{name}_id")
        where.append(
            f"(created_us, seq) {op} (SELECT created_us, seq FROM {listing.table}"
            f" WHERE {listing.scope} AND id = ${len(params)})"
        )
    params.append("limit")
    return Query(
        f"SELECT {listing.columns} FROM {listing.table} WHERE {' AND '.join(where)}"
        f" ORDER BY created_us {walk.direction}, seq {walk.direction} LIMIT ${len(params)}",
        tuple(params),
    )


THREADS = Listing("threads", "threads", THREAD_COLUMNS, "project = $1", ("project",))
USER_THREADS = Listing(
    "user_threads", "threads", THREAD_COLUMNS, "project = $1 AND user_id = $2", ("project", "user")
)
ITEMS = Listing(
    "items", "items", ITEM_COLUMNS, "project = $1 AND thread_id = $2", ("project", "thread_id")
)
REST_ITEMS = Listing(
    "rest_items",
    "items",
    ITEM_COLUMNS,
    "project = $1 AND thread_id = $2 AND rest_type IS NOT NULL",
    ("project", "thread_id"),
)
LISTINGS = (THREADS, USER_THREADS, ITEMS, REST_ITEMS)


# The joined reads aggregate a page's rows in the order of the page query they read
# from, with no ORDER BY inside the aggregates: PostgreSQL's documentation gives a sorted
# subquery as the way to order an aggregate's input, which holds while the aggregating
# level does nothing but aggregate (no join, no grouping), as here. An ORDER BY in each
# aggregate sorted the page's rows once per aggregate: 3 sorts, 20 % of the statement's
# cost (pgbench). The store contract tests read every order from every cursor.


@functools.cache
def thread_items_query(order: Order, after: bool, before: bool) -> Query:
    """A thread's columns and a page of its items (``ITEMS``) in one statement and one
    row: the number of items read, then their shapes, JSON and ids each joined into one
    text in the walk's order (as ``ThreadItemsPage.of_joined`` takes them), ``NULL``
    when none was read. No row when the thread does not exist."""
    page = ITEMS.page(order, after, before)
    inner = page.sql.replace(f"SELECT {ITEMS.columns} FROM", "SELECT id, shape, payload FROM", 1)
    columns = ", ".join(f"t.{c.strip()}" for c in THREAD_COLUMNS.split(","))
    return Query(
        f"SELECT {columns}, a.read, a.shapes, a.payloads, a.ids FROM threads t, LATERAL ("
        "SELECT count(*) AS read, string_agg(i.shape, ',') AS shapes,"
        " string_agg(i.payload::text, E'\\x1e') AS payloads,"
        f" string_agg(i.id, E'\\x1e') AS ids FROM ({inner}) i) a"
        " WHERE t.project = $1 AND t.id = $2",
        page.params,
    )


def _cursors(page: PageQuery) -> list[tuple[str, str]]:
    """The page's cursors as ``(param, id)``; ``CursorNotFound`` for an id that can name
    no row (``names_nothing``), without asking the database."""
    given = (("after", page.after), ("before", page.before))
    cursors = [(param, value) for param, value in given if value is not None]
    for param, value in cursors:
        if names_nothing(value):
            raise CursorNotFound(param, value)
    return cursors


async def _refuse_unknown(
    conn: asyncpg.Connection,
    listing: Listing,
    scope: tuple[Any, ...],
    cursors: list[tuple[str, str]],
) -> None:
    """After an empty page: ``CursorNotFound`` for a cursor naming no row of the list
    (an empty page from a known cursor is the end of the list)."""
    for param, value in cursors:
        if await conn.fetchval(listing.cursor().sql, *scope, value) is None:
            raise CursorNotFound(param, value)


async def fetch_thread_items(
    pool: Pool, project: str, thread_id: str, page: PageQuery
) -> ThreadItemsPage | None:
    """``RowStore.read_thread_items``: one round trip (two when a cursor's page is empty,
    to tell an unknown cursor from the end of the list, or when a stored value holds
    the separator the page is joined with)."""
    if names_nothing(project, thread_id):
        return None
    cursors = _cursors(page)
    query = thread_items_query(page.order, page.after is not None, page.before is not None)
    backwards = page.before is not None and page.after is None

    async def work(conn: asyncpg.Connection) -> ThreadItemsPage | None:
        row = await conn.fetchrow(
            query.sql, project, thread_id, *(v for _, v in cursors), page.limit + 1
        )
        if row is None:
            return None
        thread: Any = tuple(row[:6])
        if not row[6]:
            await _refuse_unknown(conn, ITEMS, (project, thread_id), cursors)
        found = ThreadItemsPage.of_joined(thread, row[6], row[7:], page.limit, backwards)
        if found is None:
            listing = ITEMS.page(page.order, page.after is not None, page.before is not None)
            rows = await conn.fetch(
                listing.sql, project, thread_id, *(v for _, v in cursors), page.limit + 1
            )
            items: list[ItemText] = [(r["id"], r["shape"], r["payload"]) for r in rows]
            found = ThreadItemsPage.of_rows(thread, *keyset.finish(items, page.limit, backwards))
        return found

    return await pool.run(work, idempotent=True)


def request_path_queries() -> Iterator[tuple[str, Query]]:
    """Every statement an API request can run, by name (for plan checks)."""
    yield from (
        ("get_thread", q.GET_THREAD),
        ("upsert_thread", q.UPSERT_THREAD),
        ("replace_thread", q.REPLACE_THREAD),
        ("delete_thread", q.DELETE_THREAD),
        ("get_item", q.GET_ITEM),
        ("insert_item", q.INSERT_ITEM),
        ("insert_owned_item", q.INSERT_OWNED_ITEM),
        ("upsert_item", q.UPSERT_ITEM),
        ("delete_item", q.DELETE_ITEM),
        ("put_attachment", q.PUT_ATTACHMENT),
        ("get_attachment", q.GET_ATTACHMENT),
        ("remove_attachment", q.REMOVE_ATTACHMENT),
        ("thread_attachments", q.THREAD_ATTACHMENTS),
        ("find_key", q.FIND_KEY),
        ("create_session", q.CREATE_SESSION),
        ("get_session", q.GET_SESSION),
        ("find_session", q.FIND_SESSION),
        ("cancel_session", q.CANCEL_SESSION),
        ("reserve_upload", q.RESERVE_UPLOAD),
        ("take_request_slots", q.TAKE_REQUEST_SLOTS),
        ("put_feedback", q.PUT_FEEDBACK),
        ("list_feedback", q.LIST_FEEDBACK),
        ("list_user_feedback", q.LIST_USER_FEEDBACK),
    )
    for order in ("asc", "desc"):
        for after in (False, True):
            for before in (False, True):
                name = f"thread_items.{order}" + ".after" * after + ".before" * before
                yield name, thread_items_query(order, after, before)
            for listing in (THREADS, USER_THREADS):
                name = f"{listing.name}.text.{order}" + ".after" * after
                yield name, threads_text_query(listing, order, after)
    for listing in LISTINGS:
        yield f"{listing.name}.cursor", listing.cursor()
        for order in ("asc", "desc"):
            for after in (False, True):
                for before in (False, True):
                    name = f"{listing.name}.{order}" + ".after" * after + ".before" * before
                    yield name, listing.page(order, after, before)


@functools.cache
def threads_text_query(listing: Listing, order: Order, after: bool) -> Query:
    """The ``limit + 1`` threads of a page of ``listing`` (a list of threads) as one row:
    how many were read, and their columns as ``ThreadsText`` holds them (JSON arrays
    joined by commas, in the page's order; ``NULL`` for none)."""
    page = listing.page(order, after, False)
    return Query(
        "SELECT count(*), string_agg(json_build_array(t.id, t.user_id, t.created_us, t.title,"
        f" t.status::text, t.extra::text)::text, ',') FROM ({page.sql}) t",
        page.params,
    )


async def fetch_threads_text(
    pool: Pool, listing: Listing, scope: tuple[Any, ...], page: PageQuery
) -> ThreadsText:
    """``RowStore.read_threads_text`` over ``listing`` within ``scope``: one round trip
    (two when a page with a cursor is empty, to tell an unknown cursor from the end)."""
    forward_only(page)
    cursors = _cursors(page)
    if names_nothing(*scope):
        if cursors:
            raise CursorNotFound(*cursors[0])
        return ThreadsText(0, "")
    query = threads_text_query(listing, page.order, page.after is not None)

    async def work(conn: asyncpg.Connection) -> ThreadsText:
        read, rows = await conn.fetchrow(
            query.sql, *scope, *(v for _, v in cursors), page.limit + 1
        )
        if not read:
            await _refuse_unknown(conn, listing, scope, cursors)
        return ThreadsText(read, rows or "")

    return await pool.run(work, idempotent=True)


async def fetch_page(
    pool: Pool, listing: Listing, scope: tuple[Any, ...], page: PageQuery
) -> tuple[list[asyncpg.Record], bool]:
    """One page of ``listing`` within ``scope`` (the values of its ``scope_params``).

    Raises ``CursorNotFound`` when a cursor names no row of the list."""
    cursors = _cursors(page)
    if names_nothing(*scope):
        if cursors:
            raise CursorNotFound(*cursors[0])
        return [], False
    query = listing.page(page.order, page.after is not None, page.before is not None)
    backwards = page.before is not None and page.after is None

    async def work(conn: asyncpg.Connection) -> tuple[list[asyncpg.Record], bool]:
        rows = await conn.fetch(query.sql, *scope, *(v for _, v in cursors), page.limit + 1)
        if not rows:
            await _refuse_unknown(conn, listing, scope, cursors)
        return keyset.finish(rows, page.limit, backwards)

    return await pool.run(work, idempotent=True)
