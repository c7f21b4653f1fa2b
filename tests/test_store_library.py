"""The stores as a library: public names, usable right after construction, explicit
lifecycle, and clear errors when used after ``close()`` or from another event loop.

Runs on both backends (the ``database`` fixture); every test uses a project of its own
through the store's ``project`` option, so threads never meet across tests.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chatkit.types import ThreadMetadata

import threadkit
from threadkit import PostgresStore, SQLiteStore, StoreContext, StoreUsageError, ThreadStore
from threadkit.stores import migrations, open_store

Database = tuple[str, str]
START = datetime(2024, 4, 5, 12, 0, tzinfo=UTC)


def fresh(database: Database) -> tuple[ThreadStore, str]:
    """A store made the way a library user makes one (no ``open()``), on its own project."""
    project = f"lib_{uuid.uuid4().hex[:10]}"
    return open_store(database[1], project=project), project


def thread(n: int = 0) -> ThreadMetadata:
    return ThreadMetadata(id=f"cthr_lib{n}_{uuid.uuid4().hex[:8]}", created_at=START)


def test_public_names_are_the_backends_and_the_context() -> None:
    from threadkit.stores.postgres import PostgresStore as PostgresBackend
    from threadkit.stores.sqlite import SQLiteStore as SQLiteBackend

    assert threadkit.SQLiteStore is SQLiteBackend
    assert threadkit.PostgresStore is PostgresBackend
    assert issubclass(SQLiteStore, ThreadStore) and issubclass(PostgresStore, ThreadStore)
    assert StoreContext("u").project is None


def test_usable_right_after_construction(database: Database) -> None:
    store, project = fresh(database)
    alice = StoreContext("alice")

    async def work() -> list[str]:
        try:
            t = thread()
            await store.save_thread(t, alice)  # the first call: creates or checks the schema
            assert (await store.load_thread(t.id, alice)).id == t.id
            # the store's project applies to contexts that name none
            row = await store.get_thread(project, t.id)
            assert row is not None and row.user == "alice"
            assert await store.get_thread("default", t.id) is None
            assert await store.schema_version() == migrations.latest_version(store.backend)
            page = await store.load_threads(10, None, "desc", alice)
            return [x.id for x in page.data]
        finally:
            await store.close()

    ids = asyncio.run(work())
    assert len(ids) == 1


def test_many_first_calls_at_once_create_the_schema_once(database: Database) -> None:
    store, _ = fresh(database)
    users = [StoreContext(f"user{n}") for n in range(20)]

    async def work() -> list[int]:
        try:
            threads = [thread(n) for n in range(20)]
            await asyncio.gather(
                *(store.save_thread(t, u) for t, u in zip(threads, users, strict=True))
            )
            pages = await asyncio.gather(*(store.load_threads(5, None, "asc", u) for u in users))
            return [len(p.data) for p in pages]
        finally:
            await store.close()

    assert asyncio.run(work()) == [1] * 20


def test_used_after_close_fails_clearly(database: Database) -> None:
    store, _ = fresh(database)

    async def work() -> None:
        async with store:
            await store.load_threads(1, None, "desc", StoreContext("u"))
        with pytest.raises(StoreUsageError, match="closed"):
            await store.load_threads(1, None, "desc", StoreContext("u"))
        with pytest.raises(StoreUsageError, match="closed"):
            await store.save_thread(thread(), StoreContext("u"))
        with pytest.raises(StoreUsageError, match="closed"):
            await store.open()

    asyncio.run(work())


def test_another_event_loop(database: Database) -> None:
    """PostgreSQL connections belong to the loop that opened them: another loop gets a
    clear error. SQLite's connections are not tied to a loop: it keeps working."""
    store, _ = fresh(database)
    alice = StoreContext("alice")
    t = thread()
    asyncio.run(store.save_thread(t, alice))

    async def again() -> str:
        return (await store.load_thread(t.id, alice)).id

    try:
        if store.backend == "postgres":
            with pytest.raises(StoreUsageError, match="another event loop"):
                asyncio.run(again())
        else:
            assert asyncio.run(again()) == t.id
    finally:
        if store.backend == "sqlite":
            asyncio.run(store.close())


def test_sqlite_takes_a_plain_path_and_makes_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "chat.db"
    store = SQLiteStore(path)
    assert store.url == f"sqlite:///{path}"

    async def work() -> None:
        try:
            await store.save_thread(thread(), StoreContext("u"))
        finally:
            await store.close()

    asyncio.run(work())
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM threads").fetchone()[0] == 1
    conn.close()
    for bad in ("sqlite:///:memory:", "sqlite://relative.db", ":memory:"):
        with pytest.raises(ValueError):
            SQLiteStore(bad)
