"""Bulk imports are indexed for search after they commit: the backlog, its indexing, and
what changes to the imported rows before then leave in the index. Each test has a fresh
database of its own (no server works the backlog off behind its back), on both backends.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.conftest import BACKENDS, database_url_for, drop_postgres_database, with_store
from tests.helpers import thread, user_message
from tests.test_cli import threadkit, write_jsonl
from tests.test_store_contract import message, new_id, searcher, thread_row
from threadkit.services.search_index import SearchIndexer, stop
from threadkit.stores import ThreadStore, open_store
from threadkit.stores.records import (
    ItemRow,
    PageQuery,
    SearchQuery,
    ThreadRow,
    item_row_from_rest,
)


@pytest.fixture(params=BACKENDS)
def fresh(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a new database."""
    url = database_url_for(request.param, tmp_path_factory.mktemp(request.param))
    yield url
    if request.param == "postgres":
        drop_postgres_database(url)


def fts_count(url: str, word: str) -> int | None:
    """On SQLite, how many rows of the message index hold ``word``, live or not (a row
    indexed twice, or left behind by a delete, counts); ``None`` on PostgreSQL."""
    if not url.startswith("sqlite:///"):
        return None
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return conn.execute(
            "SELECT count(*) FROM item_search WHERE item_search MATCH ?", (f'"{word}"',)
        ).fetchone()[0]
    finally:
        conn.close()


def edited(item: ItemRow, text: str) -> ItemRow:
    return item_row_from_rest(
        {**orjson.loads(item.payload), "content": [{"type": "input_text", "text": text}]}
    )


def test_an_import_is_searchable_once_its_backlog_is_indexed(fresh: str) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        threads = [thread_row(title=f"oscar{i}", created_us=(i + 1) * 10**6) for i in range(12)]
        items = [message(t.id, f"papa item{i}", at=i) for i, t in enumerate(threads)]
        async with store.bulk_import(project) as sink:
            await sink.add(threads[:5], items[:5])
            await sink.add(threads[5:], items[5:])
        # stored and listed at once, searched only once indexed
        stored = await store.get_thread(project, threads[3].id)
        assert stored is not None and stored.title == "oscar3"
        assert await found("papa") == [] and await found("oscar3") == []
        assert await store.search_backlog() == len(threads) + len(items)

        covered = []
        while done := await store.index_search_backlog(limit=5):
            assert done <= 5
            covered.append(done)
        assert sum(covered) == len(threads) + len(items)
        assert await store.search_backlog() == 0
        assert await found("papa") == [t.id for t in reversed(threads)]
        assert await found("oscar3") == [threads[3].id]
        assert await found("item7 ") == [threads[7].id]
        assert fts_count(fresh, "papa") in (None, len(items))

    with_store(fresh, work)


def test_changes_before_indexing_leave_the_index_as_if_indexed_at_once(fresh: str) -> None:
    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        kept, renamed, dropped = (thread_row(title=t) for t in ("quebec", "romeo", "sierra"))
        gone = message(kept.id, "tango", at=1)
        changed = message(kept.id, "uniform", at=2)
        stays = message(renamed.id, "victor", at=3)
        in_dropped = message(dropped.id, "whiskey", at=4)
        await store.import_rows(
            project, [kept, renamed, dropped], [gone, changed, stays, in_dropped]
        )

        assert await store.delete_item(project, kept.id, gone.id) is True
        await store.upsert_item(project, edited(changed, "xray"))
        await store.replace_thread(project, ThreadRow(renamed.id, "u1", 1, "yankee", {}))
        assert await store.delete_thread_row(project, dropped.id) is True
        fresh_item = message(kept.id, "zulu", at=5)
        await store.append_items(project, kept.id, [fresh_item])
        assert await found("zulu") == [kept.id]  # written the usual way: indexed at once

        await SearchIndexer(store).catch_up()
        for word in ("tango", "uniform", "romeo", "sierra", "whiskey"):
            assert await found(word) == [], word
        assert await found("xray") == [kept.id]
        assert await found("yankee") == [renamed.id]
        assert await found("quebec") == [kept.id]
        assert await found("victor") == [renamed.id]
        assert await found("zulu") == [kept.id]
        for word, rows in (("tango", 0), ("uniform", 0), ("whiskey", 0), ("xray", 1), ("zulu", 1)):
            assert fts_count(fresh, word) in (None, rows), word

        # and changes after it are followed as for any row
        assert await store.delete_item(project, kept.id, changed.id) is True
        await store.upsert_item(project, edited(stays, "alfa"))
        assert await found("xray") == [] and await found("victor") == []
        assert await found("alfa") == [renamed.id]
        assert fts_count(fresh, "xray") in (None, 0)
        assert fts_count(fresh, "victor") in (None, 0)

    with_store(fresh, work)


def test_a_seq_freed_at_the_end_of_an_import_is_indexed_for_its_new_row(fresh: str) -> None:
    """SQLite gives a new row the highest seq plus one: once the last imported rows are
    deleted, a new row takes a seq the import's backlog named."""

    async def work(store: ThreadStore) -> None:
        project = new_id("proj")
        found = searcher(store, project)
        thread = thread_row(title="bravo")
        items = [message(thread.id, f"charlie{i}", at=i) for i in range(5)]
        await store.import_rows(project, [thread], items)
        for item in items[3:]:
            assert await store.delete_item(project, thread.id, item.id) is True
        newer = message(thread.id, "delta", at=9)
        await store.append_items(project, thread.id, [newer])
        assert await found("delta") == [thread.id]
        assert await store.delete_item(project, thread.id, newer.id) is True
        assert await found("delta") == []
        assert fts_count(fresh, "delta") in (None, 0)
        # the same seq once more, for a row of other words
        await store.append_items(project, thread.id, [message(thread.id, "golf", at=9)])
        assert await found("golf") == [thread.id] and await found("delta") == []

        await SearchIndexer(store).catch_up()
        assert await found("golf") == [thread.id] and await found("delta") == []
        assert fts_count(fresh, "golf") in (None, 1)
        assert await found("charlie2 ") == [thread.id] and await found("charlie4 ") == []

    with_store(fresh, work)


def test_many_indexers_at_once_index_each_row_once(fresh: str) -> None:
    async def run() -> None:
        stores = [open_store(fresh) for _ in range(3)]
        for store in stores:
            await store.open()
        try:
            project = new_id("proj")
            for n in range(4):  # four imports: four ranges a table
                threads = [thread_row(title=f"echo{n}") for _ in range(10)]
                items = [message(t.id, f"foxtrot{n}", at=i) for i, t in enumerate(threads)]
                await stores[0].import_rows(project, threads, items)
            waiting = await stores[0].search_backlog()
            assert waiting == 80

            async def drain(store: ThreadStore) -> int:
                covered = 0
                while await store.search_backlog():
                    done = await store.index_search_backlog(limit=3)
                    covered += done
                    await asyncio.sleep(0)
                return covered

            covered = await asyncio.gather(*(drain(s) for s in stores))
            assert sum(covered) == waiting
            found = searcher(stores[1], project)
            for n in range(4):
                assert len(await found(f"foxtrot{n}")) == 10
                assert len(await found(f"echo{n}")) == 10
                assert fts_count(fresh, f"foxtrot{n}") in (None, 10)
        finally:
            for store in stores:
                await store.close()

    asyncio.run(run())


def test_the_cli_imports_for_later_and_indexes_when_asked(fresh: str, tmp_path: Path) -> None:
    first, second = thread(user="ann", title="hotel"), thread(user="ann", title="india")
    write_jsonl(tmp_path / "a.jsonl", [first, user_message(first["id"], "juliett")])
    write_jsonl(tmp_path / "b.jsonl", [second, user_message(second["id"], "kilo")])

    def found(word: str) -> list[str]:
        async def work(store: ThreadStore) -> list[str]:
            page = await store.search_threads("p", SearchQuery.of(word), PageQuery())
            return [row.id for row in page.rows]

        return with_store(fresh, work)

    later = threadkit("import", str(tmp_path / "a.jsonl"), "--project", "p", "--db", fresh)
    assert "imported 1 threads and 1 items" in later.stdout
    assert "once a server on this database has indexed them" in later.stdout
    assert found("juliett") == [] and found("hotel") == []
    indexed = threadkit("index-search", "--db", fresh)
    assert "(2 rows at most)" in indexed.stdout
    assert found("juliett") == [first["id"]] and found("hotel") == [first["id"]]

    now = threadkit(
        "import", str(tmp_path / "b.jsonl"), "--project", "p", "--db", fresh, "--index-now"
    )
    assert "indexed them for search" in now.stdout
    assert found("kilo") == [second["id"]] and found("india") == [second["id"]]
    assert with_store(fresh, lambda store: store.search_backlog()) == 0


def test_a_database_outage_is_one_warning_line_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The background indexer looks for work every second: while the database is down it
    says so in one line, as the requests it fails do, with no traceback (a server's log
    through a PostgreSQL restart holds none)."""
    url = database_url_for("postgres", tmp_path)

    async def run() -> list[logging.LogRecord]:
        store = open_store(url)
        await store.open()
        try:
            drop_postgres_database(url)  # every connection ended, and no new one
            task = SearchIndexer(store).start()
            try:
                for _ in range(100):
                    said = [r for r in caplog.records if r.name == "threadkit.search"]
                    if said:
                        return said
                    await asyncio.sleep(0.05)
                raise AssertionError("the indexer said nothing")
            finally:
                await stop(task)
        finally:
            await store.close()

    with caplog.at_level(logging.WARNING, logger="threadkit.search"):
        said = asyncio.run(run())
    assert [r.levelno for r in said] == [logging.WARNING]
    assert said[0].exc_info is None, said[0].exc_info
    assert "unavailable" in said[0].getMessage()
