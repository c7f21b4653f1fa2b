"""Contract tests of the store library itself: the same assertions on SQLite and PostgreSQL.

The ``database`` fixture yields ``(backend, url)`` once per backend; every test works
in a project of its own, through a freshly opened store.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClosedStatus,
    FileAttachment,
    HiddenContextItem,
    ThreadMetadata,
)

from tests import helpers
from tests.conftest import with_store
from tests.window_reference import Reference
from threadkit.services.search_index import SearchIndexer
from threadkit.stores import ThreadStore, request_window, rows
from threadkit.stores.errors import CursorNotFound, DuplicateId
from threadkit.stores.records import (
    SEPARATOR,
    FeedbackRow,
    ItemRow,
    KeyRow,
    PageQuery,
    RowPage,
    SearchQuery,
    SessionRow,
    ThreadRow,
    item_row_from_protocol,
    item_row_from_rest,
)

T = TypeVar("T")
Database = tuple[str, str]
START = datetime(2024, 4, 5, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Ctx:
    """A request context as a ChatKit server would pass it."""

    user_id: str
    project: str


def on(database: Database, work: Callable[[ThreadStore], Awaitable[T]]) -> T:
    return with_store(database[1], work)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def thread_row(user: str = "u1", created_us: int = 1_000_000, **kw: Any) -> ThreadRow:
    return ThreadRow(
        id=kw.pop("id", None) or new_id("cthr"),
        user=user,
        created_us=created_us,
        title=kw.pop("title", "a title"),
        status=kw.pop("status", {"type": "active"}),
        **kw,
    )


def rest_item(thread_id: str, created_at: int = 1_712_345_601, id: str | None = None) -> ItemRow:
    return item_row_from_rest(helpers.user_message(thread_id, created_at=created_at, id=id))


def hidden_item(thread_id: str, created_us: int, id: str | None = None) -> ItemRow:
    row = item_row_from_protocol(
        HiddenContextItem(
            id=id or new_id("cthi"),
            thread_id=thread_id,
            created_at=datetime.fromtimestamp(created_us / 1_000_000, UTC),
            content="only the model sees this",
        )
    )
    assert row.rest_type is None  # the REST API does not list it
    return row


def assistant(thread_id: str, text: str, at: datetime, id: str | None = None) -> Any:
    return AssistantMessageItem(
        id=id or new_id("cthi"),
        thread_id=thread_id,
        created_at=at,
        content=[AssistantMessageContent(text=text)],
    )


# --- paging helpers (they only use `after`/`before` as a client would) --------------------

Lister = Callable[[PageQuery], Awaitable[RowPage[Any]]]


async def walk_after(list_page: Lister, order: str, limit: int) -> list[str]:
    """Every id, page by page with ``after``."""
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await list_page(PageQuery(limit=limit, order=order, after=after))  # type: ignore[arg-type]
        assert len(page.rows) <= limit
        seen += [r.id for r in page.rows]
        if not page.has_more:
            return seen
        assert len(page.rows) == limit
        after = page.rows[-1].id


async def walk_before(list_page: Lister, order: str, limit: int, last: str) -> list[str]:
    """Every id, from ``last`` back to the start, page by page with ``before``."""
    seen = [last]
    before = last
    while True:
        page = await list_page(PageQuery(limit=limit, order=order, before=before))  # type: ignore[arg-type]
        seen = [r.id for r in page.rows] + seen
        if not page.has_more:
            return seen
        assert len(page.rows) == limit
        before = page.rows[0].id


# --- the chatkit Store interface --------------------------------------------------------------


def test_chatkit_threads_round_trip_and_stay_with_their_user(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        alice, bob = Ctx("alice", project), Ctx("bob", project)
        elsewhere = Ctx("alice", new_id("proj"))
        thread = ThreadMetadata(
            id=store.generate_thread_id(alice),
            title="Trip",
            created_at=START + timedelta(microseconds=123_456),
            status=ClosedStatus(reason="done"),
            allowed_image_domains=["img.example"],
            metadata={"zeta": 1, "alpha": {"y": [1, 2], "b": None}},
        )
        await store.save_thread(thread, alice)
        loaded = await store.load_thread(thread.id, alice)
        assert loaded == thread
        assert list(loaded.metadata) == ["zeta", "alpha"]
        assert list(loaded.metadata["alpha"]) == ["y", "b"]

        for ctx in (bob, elsewhere):
            with pytest.raises(NotFoundError):
                await store.load_thread(thread.id, ctx)
            with pytest.raises(NotFoundError):
                await store.delete_thread(thread.id, ctx)
            # Another user's thread has no items for them (as openai-chatkit's tests expect).
            foreign = await store.load_thread_items(thread.id, None, 10, "asc", ctx)
            assert (foreign.data, foreign.has_more, foreign.after) == ([], False, None)
            with pytest.raises(NotFoundError):
                await store.add_thread_item(thread.id, assistant(thread.id, "x", START), ctx)
            assert (await store.load_threads(10, None, "desc", ctx)).data == []
        with pytest.raises(NotFoundError):
            await store.save_thread(thread.model_copy(update={"title": "stolen"}), bob)
        assert (await store.load_thread(thread.id, alice)).title == "Trip"

        updated = thread.model_copy(update={"title": "Trip 2", "metadata": {"k": "v"}})
        await store.save_thread(updated, alice)
        assert await store.load_thread(thread.id, alice) == updated

        page = await store.load_threads(10, None, "desc", alice)
        assert [t.id for t in page.data] == [thread.id]
        assert page.has_more is False

    on(database, work)


def test_chatkit_items_page_in_both_orders_and_keep_their_place(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        alice, bob = Ctx("alice", project), Ctx("bob", project)
        thread = ThreadMetadata(id=store.generate_thread_id(alice), created_at=START)
        await store.save_thread(thread, alice)
        # Seconds apart, except the last two, which share a timestamp.
        times = [START + timedelta(seconds=s) for s in (1, 2, 3, 4, 5, 5)]
        items = [assistant(thread.id, f"m{n}", at) for n, at in enumerate(times)]
        for item in items:
            await store.add_thread_item(thread.id, item, alice)
        ids = [i.id for i in items]

        for order, expected in (("asc", ids), ("desc", ids[::-1])):
            got: list[str] = []
            after = None
            pages = 0
            while True:
                page = await store.load_thread_items(thread.id, after, 4, order, alice)
                got += [i.id for i in page.data]
                pages += 1
                # The cursor of the next page, none after the last page.
                assert page.after == (page.data[-1].id if page.has_more else None)
                if not page.has_more:
                    break
                after = page.after
            assert got == expected
            assert pages == 2

        first = await store.load_item(thread.id, ids[2], alice)
        assert first == items[2]

        # save_item replaces the content but not the place in the order
        changed = items[2].model_copy(update={"content": [AssistantMessageContent(text="edited")]})
        await store.save_item(thread.id, changed, alice)
        assert await store.load_item(thread.id, ids[2], alice) == changed
        page = await store.load_thread_items(thread.id, None, 50, "asc", alice)
        assert [i.id for i in page.data] == ids
        # save_item of a new item appends it
        extra = assistant(thread.id, "new", START + timedelta(seconds=9))
        await store.save_item(thread.id, extra, alice)
        page = await store.load_thread_items(thread.id, None, 50, "asc", alice)
        assert [i.id for i in page.data] == [*ids, extra.id]

        await store.delete_thread_item(thread.id, ids[0], alice)
        with pytest.raises(NotFoundError):
            await store.load_item(thread.id, ids[0], alice)
        page = await store.load_thread_items(thread.id, None, 50, "desc", alice)
        assert [i.id for i in page.data] == [extra.id, *ids[:0:-1]]

        with pytest.raises(NotFoundError):
            await store.load_thread_items(thread.id, "cthi_unknown", 10, "asc", alice)
        for call in (
            store.load_item(thread.id, ids[1], bob),
            store.save_item(thread.id, changed, bob),
            store.delete_thread_item(thread.id, ids[1], bob),
        ):
            with pytest.raises(NotFoundError):
                await call
        assert (await store.load_item(thread.id, ids[1], alice)).id == ids[1]

        await store.delete_thread(thread.id, alice)
        with pytest.raises(NotFoundError):
            await store.load_thread(thread.id, alice)
        assert await store.get_item(project, thread.id, ids[1]) is None

    on(database, work)


def test_chatkit_attachments_belong_to_their_user(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        alice, bob = Ctx("alice", project), Ctx("bob", project)
        attachment = FileAttachment(
            id=store.generate_attachment_id("application/pdf", alice),
            name="report.pdf",
            mime_type="application/pdf",
        )
        await store.save_attachment(attachment, alice)
        assert await store.load_attachment(attachment.id, alice) == attachment
        with pytest.raises(NotFoundError):
            await store.load_attachment(attachment.id, bob)
        # bob's delete finds nothing of his to delete: no error, and alice keeps hers
        await store.delete_attachment(attachment.id, bob)
        assert await store.load_attachment(attachment.id, alice) == attachment
        await store.delete_attachment("atc_never_stored", alice)
        # bob cannot overwrite it either
        await store.save_attachment(attachment.model_copy(update={"name": "mine.pdf"}), bob)
        assert (await store.load_attachment(attachment.id, alice)).name == "report.pdf"

        bound = attachment.model_copy(update={"thread_id": "cthr_1"})
        await store.save_attachment(bound, alice)
        assert await store.load_attachment(attachment.id, alice) == bound

        await store.delete_attachment(attachment.id, alice)
        with pytest.raises(NotFoundError):
            await store.load_attachment(attachment.id, alice)

    on(database, work)


# --- row level: keyset pagination ------------------------------------------------------------


def test_threads_with_equal_timestamps_page_without_skips_or_repeats(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        # 300 threads at the same microsecond, two users interleaved; then a few later
        # and a few earlier ones, stored after them.
        same = [thread_row(user=f"u{n % 2}", created_us=5_000_000) for n in range(300)]
        later = [thread_row(user="u0", created_us=6_000_000) for _ in range(3)]
        earlier = [thread_row(user="u1", created_us=4_000_000) for _ in range(3)]
        await store.import_rows(project, [*same, *later], [])
        await store.import_rows(project, earlier, [])
        asc = [t.id for t in (*earlier, *same, *later)]

        async def all_threads(page: PageQuery) -> RowPage[ThreadRow]:
            return await store.list_threads(project, page)

        async def u1_threads(page: PageQuery) -> RowPage[ThreadRow]:
            return await store.list_threads(project, page, user="u1")

        u1 = [t.id for t in (*earlier, *same, *later) if t.user == "u1"]
        for lister, expected in ((all_threads, asc), (u1_threads, u1)):
            for limit in (7, 100):
                assert await walk_after(lister, "asc", limit) == expected
                assert await walk_after(lister, "desc", limit) == expected[::-1]
                assert await walk_before(lister, "asc", limit, expected[-1]) == expected
                assert await walk_before(lister, "desc", limit, expected[0]) == expected[::-1]

        # after and before together bound a window, in either order
        window = await all_threads(PageQuery(limit=100, order="asc", after=asc[10], before=asc[40]))
        assert [r.id for r in window.rows] == asc[11:40]
        assert window.has_more is False
        window = await all_threads(PageQuery(limit=5, order="asc", after=asc[10], before=asc[40]))
        assert [r.id for r in window.rows] == asc[11:16]
        assert window.has_more is True
        window = await all_threads(
            PageQuery(limit=100, order="desc", after=asc[40], before=asc[10])
        )
        assert [r.id for r in window.rows] == asc[39:10:-1]

        first = await all_threads(PageQuery(limit=3, order="desc"))
        assert [r.id for r in first.rows] == asc[:-4:-1]
        assert first.rows[0] == later[-1]  # every field comes back

    on(database, work)


def test_items_page_by_time_then_insertion_and_hide_hidden_items(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        thread = thread_row()
        other = thread_row()
        # 250 items in one second (REST timestamps are whole seconds), every fifth hidden,
        # stored out of time order with one earlier item last.
        items: list[ItemRow] = []
        for n in range(250):
            if n % 5 == 4:
                items.append(hidden_item(thread.id, 1_712_345_601_000_000))
            else:
                items.append(rest_item(thread.id, created_at=1_712_345_601))
        early = rest_item(thread.id, created_at=1_712_345_000)
        await store.import_rows(project, [thread, other], [*items, rest_item(other.id)])
        await store.insert_item(project, early)
        every = [early.id, *(i.id for i in items)]
        visible = [early.id, *(i.id for i in items if i.rest_type is not None)]

        def lister(rest_only: bool) -> Lister:
            async def list_page(page: PageQuery) -> RowPage[ItemRow]:
                return await store.list_items(project, thread.id, page, rest_only=rest_only)

            return list_page

        for rest_only, expected in ((False, every), (True, visible)):
            list_page = lister(rest_only)
            for limit in (9, 1000):
                assert await walk_after(list_page, "asc", limit) == expected
                assert await walk_after(list_page, "desc", limit) == expected[::-1]
                assert await walk_before(list_page, "asc", limit, expected[-1]) == expected
                assert await walk_before(list_page, "desc", limit, expected[0]) == expected[::-1]

        page = await store.list_items(
            project, thread.id, PageQuery(limit=3, order="asc", before=visible[2]), rest_only=True
        )
        assert [r.id for r in page.rows] == visible[:2]
        assert page.has_more is False

    on(database, work)


def test_unknown_cursors_raise_cursor_not_found(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        mine, theirs = thread_row(user="u1"), thread_row(user="u2")
        hidden = hidden_item(mine.id, 1_000_000)
        visible = rest_item(mine.id)
        foreign = rest_item(theirs.id)
        await store.import_rows(project, [mine, theirs], [visible, hidden, foreign])
        elsewhere = new_id("proj")
        await store.import_rows(elsewhere, [thread_row(id="cthr_elsewhere")], [])

        for param in ("after", "before"):
            for order in ("asc", "desc"):
                for cursor in ("cthr_nope", "cthr_elsewhere"):
                    page = PageQuery(order=order, **{param: cursor})  # type: ignore[arg-type]
                    with pytest.raises(CursorNotFound) as caught:
                        await store.list_threads(project, page)
                    assert (caught.value.param, caught.value.value) == (param, cursor)
                with pytest.raises(CursorNotFound):  # another user's thread, user filter on
                    await store.list_threads(
                        project, PageQuery(order=order, **{param: theirs.id}), user="u1"
                    )
                for cursor, rest_only in (
                    (foreign.id, False),
                    ("cthi_nope", False),
                    (hidden.id, True),
                ):
                    with pytest.raises(CursorNotFound) as caught:
                        await store.list_items(
                            project,
                            mine.id,
                            PageQuery(order=order, **{param: cursor}),
                            rest_only=rest_only,
                        )
                    assert caught.value.value == cursor
        # the hidden (and oldest) item is a valid cursor when hidden items are listed
        page = await store.list_items(
            project, mine.id, PageQuery(order="asc", after=hidden.id), rest_only=False
        )
        assert [r.id for r in page.rows] == [visible.id]
        # with both cursors, the unknown one is named, whichever it is
        for after, before, named in (
            (mine.id, "cthr_nope", "before"),
            ("cthr_nope", mine.id, "after"),
        ):
            with pytest.raises(CursorNotFound) as caught:
                await store.list_threads(project, PageQuery(after=after, before=before))
            assert (caught.value.param, caught.value.value) == (named, "cthr_nope")

    on(database, work)


def test_a_thread_is_read_with_a_page_of_its_items_as_stored(database: Database) -> None:
    """``read_thread_items`` gives what ``get_thread`` and ``list_items`` (hidden items
    included) give, on every page from every cursor, and ``list_thread_texts`` what
    ``list_threads`` gives, as the stored columns."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        thread = thread_row(title=None, status={"type": "locked", "reason": "r"})
        thread.extra = {"metadata": {"k": None}, "allowed_image_domains": ["a.example"]}
        empty, theirs = thread_row(), thread_row(user="u2")
        items: list[ItemRow] = []
        for n in range(7):
            if n % 3 == 2:
                items.append(hidden_item(thread.id, 1_712_345_601_000_000))
            else:
                items.append(rest_item(thread.id, created_at=1_712_345_601))
        await store.import_rows(project, [thread, empty, theirs], [*items, rest_item(theirs.id)])
        await store.insert_item(project, rest_item(thread.id, created_at=1_712_345_000))

        async def expected(thread_id: str, page: PageQuery) -> tuple[Any, ...]:
            listed = await store.list_items(project, thread_id, page, rest_only=False)
            pairs = [(r.shape, r.payload) for r in listed.rows]
            last = listed.rows[-1].id if listed.rows else None
            return pairs, len(pairs), last, listed.has_more

        for thread_id in (thread.id, empty.id):
            every = await store.list_items(
                project, thread_id, PageQuery(limit=100, order="asc"), rest_only=False
            )
            ids = [None, *(r.id for r in every.rows)]
            for order in ("asc", "desc"):
                for limit in (1, 3, 1000):
                    pages = [PageQuery(limit=limit, order=order, after=i) for i in ids]  # type: ignore[arg-type]
                    pages += [PageQuery(limit=limit, order=order, before=i) for i in ids[1:]]  # type: ignore[arg-type]
                    for page in pages:
                        found = await store.read_thread_items(project, thread_id, page)
                        assert found is not None
                        assert rows.thread_row(found.thread) == await store.get_thread(
                            project, thread_id
                        )
                        got = (found.items(), found.count, found.last_id, found.has_more)
                        assert got == await expected(thread_id, page), page
        assert await store.read_thread_items(project, "cthr_nope", PageQuery()) is None
        assert await store.read_thread_items(new_id("proj"), thread.id, PageQuery()) is None
        for param in ("after", "before"):
            for cursor in ("cthi_nope", items[0].id):
                with pytest.raises(CursorNotFound) as caught:
                    await store.read_thread_items(
                        project,
                        empty.id if cursor != "cthi_nope" else thread.id,
                        PageQuery(**{param: cursor}),  # type: ignore[arg-type]
                    )
                assert (caught.value.param, caught.value.value) == (param, cursor)

        for user in (None, "u1", "u2"):
            for order in ("asc", "desc"):
                for after in (None, thread.id):
                    if user == "u2" and after is not None:
                        continue
                    page = PageQuery(limit=1, order=order, after=after)  # type: ignore[arg-type]
                    texts = await store.list_thread_texts(project, page, user)
                    decoded = await store.list_threads(project, page, user)
                    assert [rows.thread_row(t) for t in texts.rows] == decoded.rows
                    assert texts.has_more == decoded.has_more

    on(database, work)


# --- row level: writes -----------------------------------------------------------------------


def test_threads_are_read_as_one_text_as_stored(database: Database) -> None:
    """``read_threads_text`` holds what ``list_thread_texts`` gives with one thread
    more, from every cursor, in both orders, for titles JSON must escape."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        titles = [None, 'a, "quoted" title', "\x1e\x1f,[]{}", "ünïcode ✓ 😀", "back\\slash\n"]
        threads = [
            thread_row(user="u1" if n % 4 else "u2", created_us=1_000_000 + n, title=title)
            for n, title in enumerate(titles * 2)
        ]
        threads[1].extra = {"metadata": {"k": [1, None]}, "allowed_image_domains": ["x"]}
        threads[2].status = {"type": "closed", "reason": "done, really"}
        await store.import_rows(project, threads, [])
        for user in (None, "u1", "u2"):
            mine = [t.id for t in threads if user is None or t.user == user]
            for order in ("asc", "desc"):
                for limit in (1, 3, 100):
                    for after in (None, *mine):
                        page = PageQuery(limit=limit, order=order, after=after)  # type: ignore[arg-type]
                        found = await store.read_threads_text(project, page, user)
                        more = PageQuery(limit=limit + 1, order=order, after=after)  # type: ignore[arg-type]
                        listed = await store.list_thread_texts(project, more, user)
                        rows = [tuple(r) for r in orjson.loads("[" + found.rows + "]")]
                        assert (found.read, rows) == (len(listed.rows), listed.rows), page
        with pytest.raises(CursorNotFound):
            await store.read_threads_text(project, PageQuery(after="cthr_nope"))
        with pytest.raises(ValueError):
            await store.read_threads_text(project, PageQuery(before=threads[0].id))
        empty = await store.read_threads_text(new_id("proj"), PageQuery())
        assert (empty.read, empty.rows) == (0, "")

    on(database, work)


def test_a_page_is_read_as_stored_when_its_ids_hold_the_separator(database: Database) -> None:
    """The backends join a page's ids and JSON with a control character that JSON never
    holds unescaped; an id may hold it all the same, and the page then comes back as
    stored (read row by row), from every cursor, in both orders."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        thread = thread_row()
        items = [
            rest_item(thread.id, created_at=1_712_345_601 + n, id=new_id("cthi") + tail)
            for n, tail in enumerate(["", SEPARATOR, "", "a" + SEPARATOR + "b", ""])
        ]
        items.append(hidden_item(thread.id, 1_712_345_700_000_000, id=new_id("cthi") + SEPARATOR))
        await store.import_rows(project, [thread], items)
        ids: list[str | None] = [None, *(i.id for i in items)]
        for order in ("asc", "desc"):
            for limit in (1, 2, 100):
                for after in ids:
                    page = PageQuery(limit=limit, order=order, after=after)  # type: ignore[arg-type]
                    found = await store.read_thread_items(project, thread.id, page)
                    listed = await store.list_items(project, thread.id, page, rest_only=False)
                    assert found is not None
                    assert found.items() == [(r.shape, r.payload) for r in listed.rows], page
                    assert found.last_id == (listed.rows[-1].id if listed.rows else None)
                    assert found.has_more == listed.has_more

    on(database, work)


def test_import_is_all_or_nothing_and_names_the_first_taken_id(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        stored = thread_row()
        stored_item = rest_item(stored.id)
        await store.import_rows(project, [stored], [stored_item])

        fresh = [thread_row(), thread_row()]
        fresh_items = [rest_item(fresh[0].id), rest_item(fresh[1].id)]

        async def nothing_stored() -> None:
            for t in fresh:
                assert await store.get_thread(project, t.id) is None
            for i in fresh_items:
                assert await store.get_item(project, i.thread_id, i.id) is None

        # a thread id already stored
        with pytest.raises(DuplicateId) as caught:
            await store.import_rows(project, [fresh[0], stored, fresh[1]], fresh_items)
        assert (caught.value.kind, caught.value.value) == ("thread", stored.id)
        await nothing_stored()

        # an item id already stored (in another thread), after a repeat-free prefix
        moved = rest_item(fresh[1].id, id=stored_item.id)
        with pytest.raises(DuplicateId) as caught:
            await store.import_rows(project, fresh, [*fresh_items, moved])
        assert (caught.value.kind, caught.value.value) == ("item", stored_item.id)
        await nothing_stored()

        # an id repeated within the import: the first repeat is named
        again = rest_item(fresh[0].id, id=fresh_items[1].id)
        with pytest.raises(DuplicateId) as caught:
            await store.import_rows(project, fresh, [*fresh_items, again])
        assert (caught.value.kind, caught.value.value) == ("item", fresh_items[1].id)
        await nothing_stored()
        with pytest.raises(DuplicateId) as caught:
            await store.import_rows(project, [fresh[0], fresh[1], fresh[0]], [])
        assert (caught.value.kind, caught.value.value) == ("thread", fresh[0].id)
        await nothing_stored()

        # ids are unique per project: the same ids import fine into another project
        await store.import_rows(new_id("proj"), [stored, *fresh], [stored_item, *fresh_items])
        # and the clean import works here
        await store.import_rows(project, fresh, fresh_items)
        assert (await store.get_thread(project, fresh[1].id)) == fresh[1]

        # single writes name the taken id too, and change nothing
        with pytest.raises(DuplicateId) as caught:
            await store.insert_item(project, rest_item(fresh[0].id, id=stored_item.id))
        assert (caught.value.kind, caught.value.value) == ("item", stored_item.id)
        with pytest.raises(DuplicateId):
            await store.upsert_item(project, rest_item(fresh[0].id, id=stored_item.id))
        assert await store.get_item(project, stored.id, stored_item.id) == stored_item

    on(database, work)


@pytest.mark.parametrize("at", [0, 57, 99])
def test_a_taken_id_inside_a_later_batch_is_named_and_nothing_is_stored(
    database: Database, at: int
) -> None:
    """Batches of a bulk import, the taken id at the start, middle or end of the
    third one's items (on SQLite those batches go through the helper process)."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        stored = thread_row()
        stored_item = rest_item(stored.id)
        await store.import_rows(project, [stored], [stored_item])
        batches = []
        for _ in range(4):
            t = thread_row()
            batches.append((t, [rest_item(t.id) for _ in range(100)]))
        clashing = batches[2][1][at]
        batches[2][1][at] = rest_item(clashing.thread_id, id=stored_item.id)
        with pytest.raises(DuplicateId) as caught:
            async with store.bulk_import(project) as sink:
                for t, items in batches:
                    await sink.add([t], items)
        assert (caught.value.kind, caught.value.value) == ("item", stored_item.id)
        for t, items in batches:
            assert await store.get_thread(project, t.id) is None
            assert await store.get_item(project, t.id, items[0].id) is None
        assert await store.get_item(project, stored.id, stored_item.id) == stored_item
        # and the store takes the repaired batches at once
        batches[2][1][at] = clashing
        async with store.bulk_import(project) as sink:
            for t, items in batches:
                await sink.add([t], items)
        assert await store.get_item(project, clashing.thread_id, clashing.id) == clashing

    on(database, work)


def test_upsert_thread_refuses_another_users_thread(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        row = thread_row(user="u1", extra={"metadata": {"b": 1, "a": 2}})
        assert await store.upsert_thread(project, row) is True
        assert await store.get_thread(project, row.id) == row
        taken = ThreadRow(row.id, "u2", 9, "stolen", {"type": "active"})
        assert await store.upsert_thread(project, taken) is False
        assert await store.get_thread(project, row.id) == row
        renamed = ThreadRow(row.id, "u1", row.created_us, None, {"type": "locked", "reason": "r"})
        assert await store.upsert_thread(project, renamed) is True
        assert await store.get_thread(project, row.id) == renamed

    on(database, work)


def test_deleting_a_thread_deletes_its_items_and_attachments_only(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        doomed, kept = thread_row(), thread_row()
        doomed_items = [rest_item(doomed.id), hidden_item(doomed.id, 2_000_000)]
        kept_item = rest_item(kept.id)
        await store.import_rows(project, [doomed, kept], [*doomed_items, kept_item])
        await store.put_attachment(project, "att_doomed", "u1", doomed.id, '{"id":"att_doomed"}')
        await store.put_attachment(project, "att_kept", "u1", kept.id, '{"id":"att_kept"}')
        await store.put_attachment(project, "att_loose", "u1", None, '{"id":"att_loose"}')

        assert await store.delete_thread_row(project, doomed.id) is True
        assert await store.get_thread(project, doomed.id) is None
        for item in doomed_items:
            assert await store.get_item(project, doomed.id, item.id) is None
        page = await store.list_items(project, doomed.id, PageQuery(limit=10), rest_only=False)
        assert page.rows == []
        assert await store.get_attachment(project, "att_doomed") is None

        assert await store.get_thread(project, kept.id) == kept
        assert await store.get_item(project, kept.id, kept_item.id) == kept_item
        assert await store.get_attachment(project, "att_kept") == ("u1", '{"id":"att_kept"}')
        assert await store.get_attachment(project, "att_loose") == ("u1", '{"id":"att_loose"}')
        assert await store.delete_thread_row(project, doomed.id) is False

    on(database, work)


def test_owned_items_go_only_into_the_users_own_thread(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        thread = thread_row(user="alice")
        await store.import_rows(project, [thread], [])
        mine = rest_item(thread.id)
        assert await store.insert_owned_item(project, "bob", mine) is False
        assert await store.insert_owned_item("proj_elsewhere", "alice", mine) is False
        missing = rest_item("cthr_missing")
        assert await store.insert_owned_item(project, "alice", missing) is False
        assert await store.get_item(project, thread.id, mine.id) is None
        assert await store.insert_owned_item(project, "alice", mine) is True
        assert await store.get_item(project, thread.id, mine.id) == mine
        with pytest.raises(DuplicateId):
            await store.insert_owned_item(project, "alice", mine)

    on(database, work)


def test_item_payloads_come_back_byte_for_byte(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        thread = thread_row()
        await store.import_rows(project, [thread], [])
        payload = '{"z" :1,  "a":"\\u00e9 é \\ud83d\\ude00",\n "n": 1.50, "e": {}, "d": [ ]}'
        row = ItemRow("cthi_bytes", thread.id, 1, "rest", "chatkit.widget", payload)
        await store.insert_item(project, row)
        assert (await store.get_item(project, thread.id, row.id)) == row
        listed = await store.list_items(project, thread.id, PageQuery(), rest_only=True)
        assert [r.payload for r in listed.rows] == [payload]
        replaced = ItemRow(row.id, thread.id, 1, "rest", "chatkit.widget", '{"b":2,"a":1}')
        await store.upsert_item(project, replaced)
        assert (await store.get_item(project, thread.id, row.id)) == replaced
        assert orjson.loads(replaced.to_rest_json()) == {"b": 2, "a": 1}
        assert await store.delete_item(project, thread.id, row.id) is True
        assert await store.delete_item(project, thread.id, row.id) is False

    on(database, work)


def test_api_keys(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        first = KeyRow(new_id("key"), project, "sk-...abcd", 100)
        second = KeyRow(new_id("key"), project, "sk-...efgh", 200)
        await store.create_key(second, f"hash-{second.id}")
        await store.create_key(first, f"hash-{first.id}")
        assert await store.find_key(f"hash-{first.id}") == first
        assert await store.find_key("hash-nope") is None
        assert await store.list_keys(project) == [first, second]
        assert {k.id for k in await store.list_keys()} >= {first.id, second.id}
        assert await store.revoke_key(first.id, 300) is True
        assert await store.revoke_key(first.id, 400) is False
        assert (await store.find_key(f"hash-{first.id}")) == KeyRow(
            first.id, project, "sk-...abcd", 100, revoked_at=300
        )

    on(database, work)


def test_keys_with_nul_characters_name_nothing(database: Database) -> None:
    """A NUL can come in through a URL (``%00``); it finds nothing on either backend
    (PostgreSQL text cannot even hold one)."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        thread = thread_row()
        await store.import_rows(project, [thread], [rest_item(thread.id)])
        nul = "cthr_\x00x"
        assert await store.get_thread(project, nul) is None
        assert await store.get_thread(f"{project}\x00", thread.id) is None
        assert await store.get_item(project, thread.id, nul) is None
        assert await store.get_attachment(project, nul) is None
        assert await store.find_key(nul) is None
        assert await store.get_session(project, nul) is None
        assert await store.find_session(nul) is None
        assert await store.list_thread_attachments(project, nul) == []
        assert await store.list_feedback(project, user=nul) == []
        assert await store.list_thread_feedback(project, nul) == []
        assert (await store.list_threads(project, PageQuery(), user=nul)).rows == []
        empty = await store.list_items(project, nul, PageQuery(), rest_only=True)
        assert (empty.rows, empty.has_more) == ([], False)
        for param in ("after", "before"):
            with pytest.raises(CursorNotFound) as caught:
                await store.list_threads(project, PageQuery(**{param: nul}))  # type: ignore[arg-type]
            assert (caught.value.param, caught.value.value) == (param, nul)
            with pytest.raises(CursorNotFound) as caught:
                await store.list_items(
                    project,
                    nul,
                    PageQuery(**{param: thread.id}),
                    rest_only=False,  # type: ignore[arg-type]
                )
            assert caught.value.param == param
        with pytest.raises(CursorNotFound) as caught:
            await store.list_threads(project, PageQuery(after=thread.id, before=nul))
        assert (caught.value.param, caught.value.value) == ("before", nul)
        assert await store.delete_thread_row(project, nul) is False
        assert await store.delete_item(project, thread.id, nul) is False
        assert await store.remove_attachment(project, nul) is False
        assert await store.revoke_key(nul, 1) is False
        assert await store.cancel_session(project, nul, 1) is False
        assert await store.reserve_upload(project, nul, None) is False
        assert await store.get_thread(project, thread.id) == thread

    on(database, work)


# --- sessions, rate limits, feedback -----------------------------------------------------


def session_row(project: str, **kw: Any) -> SessionRow:
    return SessionRow(
        id=kw.pop("id", None) or new_id("cksess"),
        project=project,
        user=kw.pop("user", "u1"),
        secret_hint="ek_...abcd",
        created_at=1_000,
        expires_at=kw.pop("expires_at", 2_000),
        workflow={"id": "wf_1", "version": None, "state_variables": {"z": 1, "a": 2}},
        rate_limit=kw.pop("rate_limit", 10),
        configuration={"file_upload": {"enabled": True, "max_files": 2}},
        **kw,
    )


def test_sessions_round_trip_cancel_and_count_uploads(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        row = session_row(project)
        await store.create_session(row, f"hash-{row.id}")
        assert await store.get_session(project, row.id) == row
        assert await store.get_session(new_id("proj"), row.id) is None
        found = await store.find_session(f"hash-{row.id}")
        assert found == row
        assert found is not None and list(found.workflow["state_variables"]) == ["z", "a"]

        assert await store.reserve_upload(project, row.id, 2) is True
        assert await store.reserve_upload(project, row.id, 2) is True
        assert await store.reserve_upload(project, row.id, 2) is False
        assert await store.reserve_upload(project, row.id, None) is True
        assert (await store.get_session(project, row.id)).files_used == 3  # type: ignore[union-attr]

        assert await store.cancel_session(project, row.id, 2_000) is False  # expired by then
        assert await store.cancel_session(project, row.id, 1_500) is True
        assert await store.cancel_session(project, row.id, 1_600) is False  # already cancelled
        assert (await store.get_session(project, row.id)).cancelled_at == 1_500  # type: ignore[union-attr]

    on(database, work)


def test_request_slots_slide_and_refusals_do_not_count(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        sid, other = new_id("cksess"), new_id("cksess")
        window = 60_000
        # 100 000 opens its bucket, which ends at 100 099: that request leaves the
        # window at 160 099; 110 050 leaves at 170 099.
        assert await store.take_request_slot(project, sid, 100_000, 2, window) is None
        assert await store.take_request_slot(project, sid, 110_050, 2, window) is None
        assert await store.take_request_slot(project, sid, 120_000, 2, window) == 40_099
        assert await store.take_request_slot(project, sid, 160_098, 2, window) == 1
        # another session has a window of its own
        assert await store.take_request_slot(project, other, 120_000, 2, window) is None
        # refusals were not counted: at 160 099 only the 110 050 request still counts
        assert await store.take_request_slot(project, sid, 160_099, 2, window) is None
        assert await store.take_request_slot(project, sid, 160_100, 2, window) == 9_999

    on(database, work)


def test_request_window_edges(database: Database) -> None:
    """A bucket counts in full while any of it is inside the window: a request is never
    let go before 60 s have passed since it, and is let go within a bucket after that."""

    async def work(store: ThreadStore) -> None:
        project, sid = new_id("proj"), new_id("cksess")
        window = 60_000
        # three requests in one bucket (1 000 000 .. 1 000 099), the last at its end
        for at in (1_000_000, 1_000_050, 1_000_099):
            assert await store.take_request_slot(project, sid, at, 3, window) is None
        assert await store.take_request_slot(project, sid, 1_000_100, 3, window) == 59_999
        # 60 s after the last of them: still refused, one millisecond later admitted
        assert await store.take_request_slot(project, sid, 1_060_098, 3, window) == 1
        assert await store.take_request_slot(project, sid, 1_060_099, 3, window) is None
        # the whole bucket left at once: two more fit
        assert await store.take_request_slot(project, sid, 1_060_099, 3, window) is None
        assert await store.take_request_slot(project, sid, 1_060_150, 3, window) is None
        assert await store.take_request_slot(project, sid, 1_060_150, 3, window) == 59_949
        # a session idle for a whole window starts over with nothing counted
        later = 1_060_150 + 2 * window
        for k in range(3):
            assert await store.take_request_slot(project, sid, later + k, 3, window) is None
        assert await store.take_request_slot(project, sid, later + 3, 3, window) is not None

    on(database, work)


def test_request_slots_lease_and_give_back_as_the_window_defines(database: Database) -> None:
    """Slots taken several at a time and given back, checked against the window by its
    definition (``tests.window_reference``), with clock readings that go back a little
    (another process's) and across buckets that leave the window."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        sessions = [new_id("cksess") for _ in range(3)]
        window = 10_000
        reference = Reference(window)
        rng = random.Random(11)
        now = 70_000_000
        taken: dict[str, list[tuple[int, int]]] = {}
        for n in range(600):
            now += rng.choice([0, 3, 60, 350, 2_500, -40])
            session = rng.choice(sessions)
            limit = rng.choice([3, 12, 200, 1_000])
            want = rng.choice([0, 1, 2, 9, 64])
            give_back = None
            if taken.get(session) and rng.random() < 0.5:
                bucket, count = taken[session].pop(rng.randrange(len(taken[session])))
                give_back = (bucket, rng.randrange(1, count + 3))
            got = await store.take_request_slots(
                project, session, now, limit, window, want, give_back
            )
            assert got == reference.take(session, now, limit, want, give_back), n
            if got.granted:
                taken.setdefault(session, []).append((request_window.bucket_of(now), got.granted))

        # the rule itself, on a fresh session: an eighth of the room while that is 2 or
        # more, then a slot at a time, then refused; a give-back opens that much room
        sid = new_id("cksess")
        at = 90_000_000
        bucket = request_window.bucket_of(at)
        grants = []
        while (got := await store.take_request_slots(project, sid, at, 40, 60_000, 64)).granted:
            grants.append(got.granted)
        assert grants == [5, 4, 3, 3, 3, 2, 2, 2, 2] + [1] * 14
        assert sum(grants) == 40
        assert got.wait_ms == 60_099
        later = await store.take_request_slots(project, sid, at + 100, 40, 60_000, 64, (bucket, 3))
        assert later == (1, 0)  # three given back, room 3: one granted
        assert await store.take_request_slots(project, sid, at + 100, 40, 60_000) == (1, 0)
        assert await store.take_request_slots(project, sid, at + 100, 40, 60_000) == (1, 0)
        assert (await store.take_request_slots(project, sid, at + 100, 40, 60_000)).granted == 0
        # want 0 only gives back, and a give-back never goes below zero of its bucket
        assert await store.take_request_slots(
            project, sid, at + 200, 40, 60_000, 0, (bucket + 1, 99)
        ) == (0, 0)
        # the 37 of the first bucket still count: room 3, a slot at a time
        assert await store.take_request_slots(project, sid, at + 200, 40, 60_000, 64) == (1, 0)
        # the single-slot call is the same with want 1
        assert await store.take_request_slot(project, sid, at + 200, 40, 60_000) is None
        assert await store.take_request_slot(project, sid, at + 200, 40, 60_000) is None
        assert await store.take_request_slot(project, sid, at + 200, 40, 60_000) == 60_099 - 200

    on(database, work)


def test_feedback_replaces_per_item_and_user_and_goes_with_the_thread(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        doomed, kept = thread_row(), thread_row()
        await store.import_rows(project, [doomed, kept], [])

        def fb(thread: ThreadRow, item: str, user: str, kind: str, at: int) -> FeedbackRow:
            return FeedbackRow(thread.id, item, user, kind, at)  # type: ignore[arg-type]

        await store.put_feedback(
            project,
            [
                fb(kept, "i1", "alice", "positive", 1),
                fb(kept, "i1", "bob", "negative", 2),
                fb(doomed, "i9", "alice", "positive", 3),
            ],
        )
        # alice changes her mind on i1 (twice in one call: the last one counts)
        await store.put_feedback(
            project,
            [fb(kept, "i1", "alice", "negative", 4), fb(kept, "i1", "alice", "positive", 5)],
        )

        def key(rows: list[FeedbackRow]) -> list[tuple[str, str, str, str, int]]:
            return [(r.thread_id, r.item_id, r.user, r.kind, r.created_at) for r in rows]

        every = await store.list_feedback(project)
        assert key(every) == [
            (kept.id, "i1", "bob", "negative", 2),
            (doomed.id, "i9", "alice", "positive", 3),
            (kept.id, "i1", "alice", "positive", 5),
        ]
        assert [r.seq for r in every] == sorted(r.seq for r in every)
        assert key(await store.list_feedback(project, after=every[0].seq, limit=1)) == key(
            every[1:2]
        )
        assert key(await store.list_feedback(project, user="alice")) == key(every[1:])
        assert key(await store.list_thread_feedback(project, kept.id)) == key([every[0], every[2]])
        assert key(await store.list_thread_feedback(project, doomed.id)) == key(every[1:2])
        assert await store.list_thread_feedback(new_id("proj"), kept.id) == []

        assert await store.delete_thread_row(project, doomed.id) is True
        assert await store.list_thread_feedback(project, doomed.id) == []
        assert key(await store.list_feedback(project)) == key([every[0], every[2]])
        assert await store.list_feedback(new_id("proj")) == []

    on(database, work)


def test_a_big_import_is_one_transaction(database: tuple[str, str]) -> None:
    """Thousands of new threads in one import (PostgreSQL once ran out of lock slots)."""
    _, url = database
    project = f"big_{uuid.uuid4().hex[:8]}"
    threads = [
        ThreadRow(id=f"cthr_big_{n}", user="u", created_us=n, title=None, status={"type": "active"})
        for n in range(30_000)
    ]
    items = [
        item_row_from_rest(helpers.assistant_message(t.id, id=f"cthi_big_{n}"))
        for n, t in enumerate(threads)
    ]

    async def go(store: ThreadStore) -> int:
        await store.import_rows(project, threads, items)
        page = await store.list_threads(project, PageQuery(limit=100))
        return len(page.rows)

    assert with_store(url, go) == 100


# --- threads and items written by the REST extensions ---------------------------------------


def test_create_thread_stores_it_with_its_items_in_order_or_nothing(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        row = thread_row(extra={"metadata": {"k": "v"}})
        items = [rest_item(row.id, created_at=5) for _ in range(3)]
        await store.create_thread(project, row, items)
        assert await store.get_thread(project, row.id) == row
        page = await store.list_items(
            project, row.id, PageQuery(limit=10, order="asc"), rest_only=True
        )
        assert [r.id for r in page.rows] == [i.id for i in items]  # equal times: given order

        again = thread_row()
        with pytest.raises(DuplicateId) as caught:
            await store.create_thread(project, again, [rest_item(again.id, id=items[1].id)])
        assert (caught.value.kind, caught.value.value) == ("item", items[1].id)
        assert await store.get_thread(project, again.id) is None
        with pytest.raises(DuplicateId):
            await store.create_thread(project, row, [])

    on(database, work)


def test_replace_thread_changes_a_stored_thread_only(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        row = thread_row(user="u1")
        await store.create_thread(project, row, [])
        changed = ThreadRow(
            row.id, "u1", row.created_us, "new", {"type": "closed", "reason": "done"}, {"a": 1}
        )
        assert await store.replace_thread(project, changed) is True
        assert await store.get_thread(project, row.id) == changed
        # another user's, another project's, a missing or a deleted thread: nothing changes
        assert await store.replace_thread(project, ThreadRow(row.id, "u2", 0, "x", {})) is False
        assert await store.replace_thread(new_id("proj"), changed) is False
        assert await store.get_thread(project, row.id) == changed
        assert await store.delete_thread_row(project, row.id) is True
        assert await store.replace_thread(project, changed) is False
        assert await store.get_thread(project, row.id) is None

    on(database, work)


def test_append_items_goes_to_a_stored_thread_only(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        row = thread_row()
        first = rest_item(row.id, created_at=10)
        await store.create_thread(project, row, [first])
        more = [rest_item(row.id, created_at=9), rest_item(row.id, created_at=11)]
        assert await store.append_items(project, row.id, more) is True
        page = await store.list_items(
            project, row.id, PageQuery(limit=10, order="asc"), rest_only=True
        )
        assert [r.id for r in page.rows] == [more[0].id, first.id, more[1].id]  # by time
        # the protocol's view of the same thread sees them at once
        loaded = await store.load_thread_items(row.id, None, 10, "asc", Ctx(row.user, project))
        assert [i.id for i in loaded.data] == [more[0].id, first.id, more[1].id]

        missing = "cthr_missing"
        assert await store.append_items(project, missing, [rest_item(missing)]) is False
        assert await store.append_items(new_id("proj"), row.id, [rest_item(row.id)]) is False
        taken = [rest_item(row.id), rest_item(row.id, id=first.id)]
        with pytest.raises(DuplicateId) as caught:
            await store.append_items(project, row.id, taken)
        assert caught.value.value == first.id
        assert await store.get_item(project, row.id, taken[0].id) is None  # all or nothing

    on(database, work)


# --- full-text search -----------------------------------------------------------------------


def message(thread_id: str, text: str, *, assistant_text: bool = False, at: int = 1) -> ItemRow:
    if assistant_text:
        return item_row_from_rest(helpers.assistant_message(thread_id, text, created_at=at))
    data = helpers.user_message(thread_id, text, created_at=at)
    data["content"] = [{"type": "input_text", "text": text}]
    return item_row_from_rest(data)


def searcher(store: ThreadStore, project: str) -> Callable[..., Awaitable[list[str]]]:
    """Ids of the threads a search finds, every page of them, newest first."""

    async def found(text: str, *, user: str | None = None, limit: int = 100) -> list[str]:
        search = SearchQuery.of(text)
        pages = lambda page: store.search_threads(project, search, page, user)  # noqa: E731
        return await walk_after(pages, "desc", limit)

    return found


def test_search_needs_every_word_in_one_title_or_message(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        refund = thread_row(title="Refund for order 1234", created_us=1_000_000)
        mixed = thread_row(title="Shipping", created_us=2_000_000)
        quiet = thread_row(title=None, created_us=3_000_000)
        await store.create_thread(project, refund, [message(refund.id, "hello there")])
        await store.create_thread(
            project,
            mixed,
            [
                message(mixed.id, "Where is my refund?"),
                message(mixed.id, "The ORDER was late", assistant_text=True),
            ],
        )
        await store.create_thread(project, quiet, [message(quiet.id, "order a refund now")])

        assert await found("refund") == [quiet.id, mixed.id, refund.id]
        assert await found("refund order") == [quiet.id, refund.id]  # one title or one message
        assert await found("ORDER Refund") == [quiet.id, refund.id]  # any order, any case
        assert await found("refund late") == []  # the words are in two different messages
        assert await found("late order") == [mixed.id]  # an assistant message counts too
        assert await found("1234") == [refund.id]
        assert await found("nothing-like-this") == []
        assert await found("") == [] and await found("?!") == []

    on(database, work)


def test_search_takes_the_last_word_as_a_prefix_unless_it_ended(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        row = thread_row(title="Onboarding issue")
        await store.create_thread(project, row, [message(row.id, "debugging the dashboard")])
        assert await found("onboard") == [row.id]
        assert await found("dash") == [row.id]
        assert await found("debugging dash") == [row.id]
        assert await found("debug dashboard") == []  # only the last word is a prefix
        assert await found("dash ") == []  # a space after it: a whole word
        assert await found("dashboard.") == [row.id]
        assert await found("oard") == []  # a prefix, not any part of a word

    on(database, work)


def test_search_folds_case_in_any_script_and_keeps_accents(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        row = thread_row(title="ÉCOLE Straße")
        await store.create_thread(
            project,
            row,
            [message(row.id, "Привет МИР, 東京タワー and ΑΘΗΝΑ; mail bob@example.com, see-also")],
        )
        for text in ("école", "École", "straße", "мир", "привет мир", "東京タワー", "αθηνα"):
            assert await found(text) == [row.id], text
        assert await found("ecole") == []  # accents are kept
        for text in ("bob", "example com", "bob@example.com", "see also", "also"):
            assert await found(text) == [row.id], text  # punctuation separates words

    on(database, work)


def test_search_follows_every_write_and_delete(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        row = thread_row(title="Alpha")
        item = message(row.id, "bravo")
        await store.create_thread(project, row, [item])
        assert await found("alpha") == [row.id] and await found("bravo") == [row.id]

        await store.append_items(project, row.id, [message(row.id, "charlie", at=2)])
        assert await found("charlie") == [row.id]
        await store.insert_item(project, message(row.id, "delta", at=3))
        assert await found("delta") == [row.id]

        changed = item_row_from_rest(
            {**orjson.loads(item.payload), "content": [{"type": "input_text", "text": "echo"}]}
        )
        await store.upsert_item(project, changed)
        assert await found("bravo") == [] and await found("echo") == [row.id]
        assert await store.delete_item(project, row.id, item.id) is True
        assert await found("echo") == []

        await store.replace_thread(
            project, ThreadRow(row.id, row.user, row.created_us, "Foxtrot", {})
        )
        assert await found("alpha") == [] and await found("foxtrot") == [row.id]
        await store.upsert_thread(project, ThreadRow(row.id, row.user, row.created_us, None, {}))
        assert await found("foxtrot") == []

        # the protocol's writes, through the chatkit Store interface
        ctx = Ctx(row.user, project)
        said = assistant(row.id, "golf hotel", START)
        await store.add_thread_item(row.id, said, ctx)
        assert await found("golf hotel") == [row.id]
        await store.save_item(
            row.id,
            said.model_copy(update={"content": [AssistantMessageContent(text="india")]}),
            ctx,
        )
        assert await found("golf") == [] and await found("india") == [row.id]
        await store.insert_item(project, hidden_item(row.id, 5_000_000))
        assert await found("only the model") == []  # hidden context is not searched

        assert await store.delete_thread_row(project, row.id) is True
        for text in ("charlie", "delta", "india"):
            assert await found(text) == [], text

    on(database, work)


def test_search_finds_imported_threads_within_project_and_user(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        threads = [thread_row(user=f"u{i % 3}", created_us=(i + 1) * 1_000_000) for i in range(30)]
        items = [message(t.id, f"kilo number{i}", at=i) for i, t in enumerate(threads)]
        async with store.bulk_import(project) as sink:
            await sink.add(threads[:10], items[:10])
            await sink.add(threads[10:], items[10:])
        await SearchIndexer(store).catch_up()  # imports are indexed after they commit
        newest_first = [t.id for t in reversed(threads)]
        assert await found("kilo") == newest_first
        assert await found("kilo", limit=7) == newest_first  # paged with after
        assert await found("number2 ") == [threads[2].id]
        assert await found("number2 ", user="u2") == [threads[2].id]
        assert await found("number2 ", user="u1") == []
        assert await found("kilo", user="u1") == [t.id for t in reversed(threads) if t.user == "u1"]
        other = searcher(store, new_id("proj"))
        assert await other("kilo") == []  # another project's threads are not found

        # both orders, and before, as for any list
        search = SearchQuery.of("kilo")
        asc = await store.search_threads(project, search, PageQuery(limit=5, order="asc"))
        assert [r.id for r in asc.rows] == [t.id for t in threads[:5]] and asc.has_more
        back = await store.search_threads(
            project, search, PageQuery(limit=3, order="asc", before=threads[10].id)
        )
        assert [r.id for r in back.rows] == [t.id for t in threads[7:10]] and back.has_more
        assert (
            await walk_before(
                lambda page: store.search_threads(project, search, page), "desc", 4, threads[0].id
            )
            == newest_first
        )

    on(database, work)


def test_search_cursors_must_name_a_thread_of_the_list(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        mine, theirs = thread_row(user="u1", title="lima"), thread_row(user="u2", title="lima")
        plain = thread_row(user="u1", title="mike")
        for row in (mine, theirs, plain):
            await store.create_thread(project, row, [])
        search = SearchQuery.of("lima")
        for cursor in ("cthr_unknown", "bad\x00id"):
            for param in ("after", "before"):
                with pytest.raises(CursorNotFound) as caught:
                    await store.search_threads(project, search, PageQuery(**{param: cursor}))
                assert caught.value.param == param
        with pytest.raises(CursorNotFound):
            await store.search_threads(project, search, PageQuery(after=theirs.id), "u1")
        with pytest.raises(CursorNotFound):
            await store.search_threads(new_id("proj"), search, PageQuery(after=mine.id))
        # a thread of the list that does not match is a place in the order all the same
        page = await store.search_threads(project, search, PageQuery(after=plain.id))
        assert [r.id for r in page.rows] == [theirs.id, mine.id]

    on(database, work)


def test_search_finds_common_words_page_by_page(database: Database) -> None:
    """Enough matches that a backend may walk the threads instead of sorting the matches."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        threads = [thread_row(created_us=(i + 1) * 1_000_000) for i in range(1_200)]
        items = [
            message(t.id, "common words " + ("rare" if i % 400 == 7 else "filler"), at=i)
            for i, t in enumerate(threads)
            for _ in range(2)
        ]
        await store.import_rows(project, threads, items)
        await SearchIndexer(store).catch_up()
        newest_first = [t.id for t in reversed(threads)]
        assert await found("common", limit=100) == newest_first
        assert await found("common rare") == [threads[i].id for i in (807, 407, 7)]
        assert await found("comm") == newest_first
        assert await found("common", user="u1", limit=300) == newest_first
        assert await found("common", user="u2") == []
        search = SearchQuery.of("common")
        pages = lambda page: store.search_threads(project, search, page)  # noqa: E731
        assert await walk_after(pages, "asc", 70) == [t.id for t in threads]
        assert await walk_before(pages, "desc", 50, threads[0].id) == newest_first
        middle = await store.search_threads(
            project, search, PageQuery(limit=5, after=threads[600].id, before=threads[590].id)
        )
        assert [r.id for r in middle.rows] == [threads[i].id for i in range(599, 594, -1)]

    on(database, work)


def test_search_takes_a_common_word_as_a_prefix_too(database: Database) -> None:
    """A word common enough to be counted as a whole word first: as the last word of a
    query it is still a prefix, so threads holding only a longer word are found too."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        threads = [thread_row(title=None, created_us=(i + 1) * 1_000_000) for i in range(1_200)]
        longer = {i for i in range(len(threads)) if i % 300 == 5}
        items = [
            message(t.id, "commonplace words" if i in longer else "common words", at=i)
            for i, t in enumerate(threads)
            for _ in range(2)
        ]
        await store.import_rows(project, threads, items)
        await SearchIndexer(store).catch_up()
        newest_first = [t.id for t in reversed(threads)]
        assert await found("common", limit=100) == newest_first
        whole = [t.id for i, t in reversed(list(enumerate(threads))) if i not in longer]
        assert await found("common ", limit=100) == whole
        assert await found("commonp") == [threads[i].id for i in sorted(longer, reverse=True)]

    on(database, work)


def test_search_reads_around_nul_characters(database: Database) -> None:
    """PostgreSQL cannot hold NUL in text; a message with one is stored, found by its
    other words, and forgotten when deleted, on both backends."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        row = thread_row(title=None)
        item = message(row.id, "oscar\x00papa quebec")
        await store.create_thread(project, row, [item])
        assert await found("quebec") == [row.id]
        assert await found("oscar") == [row.id] and await found("papa") == [row.id]
        assert await store.delete_item(project, row.id, item.id) is True
        assert await found("quebec") == []

    on(database, work)


def test_search_finds_old_threads_behind_many_newer_ones(database: Database) -> None:
    """A word common elsewhere (another project) but found only in this project's oldest
    threads: a backend that walks the newest threads first must go on to the rest."""

    async def work(store: ThreadStore) -> None:
        project, elsewhere = new_id("proj"), new_id("proj")
        found = searcher(store, project)
        threads = [thread_row(created_us=(i + 1) * 1_000_000) for i in range(400)]
        items = [
            message(t.id, "papaya smoothie" if i < 3 else "plain words", at=i)
            for i, t in enumerate(threads)
        ]
        await store.import_rows(project, threads, items)
        others = [thread_row() for _ in range(2_100)]
        await store.import_rows(elsewhere, others, [message(t.id, "papaya") for t in others])
        await SearchIndexer(store).catch_up()
        oldest = [t.id for t in reversed(threads[:3])]
        assert await found("papaya") == oldest
        assert await found("papaya", limit=2) == oldest
        assert await found("papaya smoo", user="u1") == oldest
        page = await store.search_threads(
            project, SearchQuery.of("papaya"), PageQuery(limit=2, order="asc")
        )
        assert [r.id for r in page.rows] == [t.id for t in threads[:2]] and page.has_more

    on(database, work)
