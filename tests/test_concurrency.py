"""Concurrent clients on both backends: each writer and reader is a store instance of its
own (own connections; for SQLite its own writer thread), all running at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tests.conftest import run
from threadkit.stores import ThreadStore, open_store
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import ItemRow, PageQuery, ThreadRow

T = TypeVar("T")
Database = tuple[str, str]


def with_stores(url: str, count: int, work: Callable[..., Awaitable[T]]) -> T:
    """Run ``work(*stores)`` with ``count`` separately opened stores on ``url``."""

    async def go() -> T:
        stores = [open_store(url) for _ in range(count)]
        for store in stores:
            await store.open()
        try:
            return await work(*stores)
        finally:
            for store in stores:
                await store.close()

    return run(go())


async def all_ids(store: ThreadStore, project: str, thread_id: str, order: str) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page = await store.list_items(
            project, thread_id, PageQuery(limit=7, order=order, after=after), rest_only=False
        )
        ids += [r.id for r in page.rows]
        if not page.has_more:
            return ids
        after = page.rows[-1].id


def test_two_writers_appending_to_one_thread_end_in_one_order(database: Database) -> None:
    n = 60
    project = f"proj_{uuid.uuid4().hex[:10]}"
    thread = ThreadRow(f"cthr_{uuid.uuid4().hex[:10]}", "u1", 1, "t", {"type": "active"})

    async def work(reader: ThreadStore, one: ThreadStore, two: ThreadStore) -> None:
        await reader.import_rows(project, [thread], [])
        written: dict[str, list[str]] = {}

        async def append(store: ThreadStore, tag: str) -> None:
            written[tag] = []
            for k in range(n):
                item_id = f"cthi_{tag}_{k:03d}"
                # Half share one timestamp, so their order is the insertion order.
                created_us = 5_000_000 if k % 2 else 5_000_000 + k
                payload = f'{{"writer":"{tag}","k":{k}}}'
                row = ItemRow(item_id, thread.id, created_us, "rest", "chatkit.widget", payload)
                await store.insert_item(project, row)
                written[tag].append(item_id)

        await asyncio.gather(append(one, "a"), append(two, "b"))

        asc = await all_ids(reader, project, thread.id, "asc")
        desc = await all_ids(reader, project, thread.id, "desc")
        assert len(asc) == 2 * n
        assert sorted(asc) == sorted(written["a"] + written["b"])
        assert desc == asc[::-1]
        # Each writer's equal-timestamp items keep the order that writer appended them in.
        for tag in ("a", "b"):
            mine = [i for i in asc if i.startswith(f"cthi_{tag}_") and int(i[-3:]) % 2]
            assert mine == [i for i in written[tag] if int(i[-3:]) % 2]
        # Both readers (and a fresh store) agree on the order.
        assert await all_ids(one, project, thread.id, "asc") == asc
        assert await all_ids(two, project, thread.id, "desc") == desc

    with_stores(database[1], 3, work)


def test_concurrent_creates_deletes_and_lists_never_show_half_a_thread(
    database: Database,
) -> None:
    project = f"proj_{uuid.uuid4().hex[:10]}"
    per_thread = 6
    per_creator = 25

    def thread_for(thread_id: str) -> ThreadRow:
        status = {"type": "closed", "reason": f"reason of {thread_id}"}
        return ThreadRow(thread_id, "u1", 7_000_000, f"title of {thread_id}", status)

    def items_for(thread_id: str) -> list[ItemRow]:
        return [
            ItemRow(f"{thread_id}_i{k}", thread_id, 7_000_000, "rest", "chatkit.widget", "{}")
            for k in range(per_thread)
        ]

    async def work(*stores: ThreadStore) -> None:
        creator_a, creator_b, deleter, lister_a, lister_b, checker = stores
        created: asyncio.Queue[str | None] = asyncio.Queue()
        deleted: set[str] = set()
        all_created: list[str] = []
        creating = 2
        observations = 0

        async def create(store: ThreadStore, tag: str) -> None:
            nonlocal creating
            for k in range(per_creator):
                thread_id = f"cthr_{tag}{k:03d}"
                await store.import_rows(project, [thread_for(thread_id)], items_for(thread_id))
                all_created.append(thread_id)
                await created.put(thread_id)
            creating -= 1
            if creating == 0:
                await created.put(None)

        async def delete(store: ThreadStore) -> None:
            turn = 0
            while (thread_id := await created.get()) is not None:
                turn += 1
                if turn % 2:
                    assert await store.delete_thread_row(project, thread_id) is True
                    deleted.add(thread_id)

        async def watch(store: ThreadStore) -> None:
            nonlocal observations
            while creating or not created.empty():
                after = None
                while True:
                    try:
                        page = await store.list_threads(
                            project, PageQuery(limit=5, order="asc", after=after)
                        )
                    except CursorNotFound:  # the cursor thread was just deleted
                        break
                    for row in page.rows:
                        assert row == thread_for(row.id)
                        items = await store.list_items(
                            project, row.id, PageQuery(limit=50), rest_only=False
                        )
                        # One statement, one snapshot: all the items or, once deleted, none.
                        assert len(items.rows) in (0, per_thread), row.id
                        if not items.rows:
                            assert await checker.get_thread(project, row.id) is None
                        observations += 1
                    if not page.has_more:
                        break
                    after = page.rows[-1].id
                await asyncio.sleep(0)

        await asyncio.gather(
            create(creator_a, "a"),
            create(creator_b, "b"),
            delete(deleter),
            watch(lister_a),
            watch(lister_b),
        )
        assert observations > 0
        assert len(all_created) == 2 * per_creator
        for thread_id in all_created:
            stored = await checker.get_thread(project, thread_id)
            items = await checker.list_items(
                project, thread_id, PageQuery(limit=50), rest_only=False
            )
            if thread_id in deleted:
                assert stored is None
                assert items.rows == []
            else:
                assert stored == thread_for(thread_id)
                assert [r.id for r in items.rows] == [i.id for i in items_for(thread_id)][::-1]

    with_stores(database[1], 6, work)


def test_concurrent_requests_never_exceed_a_sessions_rate_limit(database: Database) -> None:
    project = f"proj_{uuid.uuid4().hex[:10]}"
    session_id = f"cksess_{uuid.uuid4().hex[:10]}"
    limit = 7

    async def work(*stores: ThreadStore) -> None:
        # The clock readings straddle bucket boundaries (three buckets of 100 ms).
        async def ask(store: ThreadStore, k: int) -> int | None:
            at = 1_000_000 + 30 * k
            return await store.take_request_slot(project, session_id, at, limit, 60_000)

        answers = await asyncio.gather(*(ask(store, k) for k in range(10) for store in stores))
        assert sum(answer is None for answer in answers) == limit
        # a refused one waits for the first bucket (1 000 000 .. 1 000 099) to leave
        assert all(answer is None or 0 < answer <= 60_099 for answer in answers)

    with_stores(database[1], 3, work)


def test_concurrent_leases_and_give_backs_count_exactly(database: Database) -> None:
    """Stores taking slots several at a time and giving part of them back, all at once:
    once every one of them is refused, what they hold is exactly the limit."""
    project = f"proj_{uuid.uuid4().hex[:10]}"
    session_id = f"cksess_{uuid.uuid4().hex[:10]}"
    limit = 400

    async def work(*stores: ThreadStore) -> None:
        async def lease(store: ThreadStore, k: int) -> int:
            held, back = 0, None
            step = 0
            while True:
                at = 1_000_000 + 7 * (k + step)  # across buckets, all in one window
                step += 1
                got = await store.take_request_slots(
                    project, session_id, at, limit, 60_000, 64 if k % 2 else 9, back
                )
                if back is not None:
                    held -= back[1]
                if not got.granted:
                    return held
                held += got.granted
                # give back a third of this lease with the next call
                back = (at // 100, got.granted // 3) if got.granted >= 3 else None

        held = await asyncio.gather(*(lease(store, k) for k in range(8) for store in stores))
        assert sum(held) == limit

    with_stores(database[1], 3, work)
