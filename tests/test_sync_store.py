"""The store's sync state (``threadkit sync``): the same assertions on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from tests import helpers
from tests.conftest import with_store
from threadkit.stores import ThreadStore
from threadkit.stores.errors import DuplicateId
from threadkit.stores.records import ItemRow, PageQuery, SyncBatch, ThreadRow, item_row_from_rest

Database = tuple[str, str]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def thread_row(user: str = "u1", title: str | None = "a title") -> ThreadRow:
    return ThreadRow(new_id("cthr"), user, 1_700_000_000_000_000, title, {"type": "active"})


def items(thread_id: str, n: int, created_at: int = 1_700_000_001) -> list[ItemRow]:
    # equal timestamps: their order is the order they were appended in
    return [
        item_row_from_rest(helpers.assistant_message(thread_id, f"m{i}", created_at))
        for i in range(n)
    ]


async def stored_ids(store: ThreadStore, project: str, thread_id: str) -> list[str]:
    page = await store.list_items(
        project, thread_id, PageQuery(limit=100, order="asc"), rest_only=True
    )
    return [r.id for r in page.rows]


def test_a_sync_step_stores_thread_items_and_cursor_together(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        row = thread_row()
        first = items(row.id, 3)
        await store.apply_sync(project, SyncBatch(row.id, row, first, first[-1].id))
        assert await store.get_thread(project, row.id) == row
        assert await stored_ids(store, project, row.id) == [i.id for i in first]
        assert await store.sync_cursors(project, [row.id, "cthr_other"]) == {row.id: first[-1].id}

        # appending and renaming keep what is stored in place
        more = items(row.id, 2, created_at=1_700_000_001)
        renamed = ThreadRow(
            row.id, row.user, row.created_us, "new", {"type": "closed", "reason": "x"}
        )
        await store.apply_sync(project, SyncBatch(row.id, renamed, more, more[-1].id))
        assert await store.get_thread(project, row.id) == renamed
        assert await stored_ids(store, project, row.id) == [i.id for i in first + more]
        assert await store.sync_cursors(project, [row.id]) == {row.id: more[-1].id}

        # only the cursor moves (items that were stored already)
        await store.apply_sync(project, SyncBatch(row.id, cursor=first[0].id))
        assert await store.sync_cursors(project, [row.id]) == {row.id: first[0].id}
        # cursors are per project
        assert await store.sync_cursors(new_id("proj"), [row.id]) == {}

    with_store(database[1], work)


@pytest.mark.parametrize("clash", ["item", "thread"])
def test_a_sync_step_is_all_or_nothing(database: Database, clash: str) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        other = thread_row(user="u1")
        other_items = items(other.id, 1)
        await store.import_rows(project, [other], other_items)
        row = thread_row(user="u2")
        batch_items = items(row.id, 3)
        if clash == "item":  # an id of another thread's item, after two fine ones
            batch_items[2] = item_row_from_rest(helpers.widget(row.id, id=other_items[0].id))
            thread = row
        else:  # the id of another user's thread
            thread = ThreadRow(other.id, "u2", row.created_us, "mine", {"type": "active"})
            batch_items = items(other.id, 2)
        with pytest.raises(DuplicateId) as caught:
            await store.apply_sync(project, SyncBatch(thread.id, thread, batch_items, "cthi_x"))
        assert caught.value.kind == clash
        assert await store.sync_cursors(project, [row.id, other.id]) == {}
        assert await store.get_thread(project, other.id) == other
        assert await stored_ids(store, project, other.id) == [other_items[0].id]
        assert await store.get_thread(project, row.id) is None
        assert await stored_ids(store, project, row.id) == []

    with_store(database[1], work)


def test_resume_points_are_per_source_and_user_filter(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        a, b = "https://a.example/v1", "http://127.0.0.1:1/v1"
        assert await store.sync_resume_point(project, a, None) is None
        await store.set_sync_resume_point(project, a, None, "cthr_1")
        await store.set_sync_resume_point(project, a, "ann", "cthr_2")
        await store.set_sync_resume_point(project, b, None, "cthr_3")
        await store.set_sync_resume_point(project, a, None, "cthr_4")
        assert await store.sync_resume_point(project, a, None) == "cthr_4"
        assert await store.sync_resume_point(project, a, "ann") == "cthr_2"
        assert await store.sync_resume_point(project, b, None) == "cthr_3"
        assert await store.sync_resume_point(new_id("proj"), a, None) is None
        await store.set_sync_resume_point(project, a, None, None)
        assert await store.sync_resume_point(project, a, None) is None
        assert await store.sync_resume_point(project, a, "ann") == "cthr_2"

    with_store(database[1], work)
