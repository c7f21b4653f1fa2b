"""SQLite specifics: durability settings and schema upgrades of existing files."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from threadkit.stores import migrations
from threadkit.stores.errors import DuplicateId, StoreUnavailable
from threadkit.stores.records import ItemRow, PageQuery, ThreadRow
from threadkit.stores.sqlite.connections import (
    CHANGING_CACHE_MIB,
    LOOK_EVERY_SECONDS,
    WRITER_CACHE_MIB,
)
from threadkit.stores.sqlite.migrate import statements as _statements
from threadkit.stores.sqlite.store import SQLiteStore

ACTIVE = {"type": "active"}


def test_connections_are_durable(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'd.db'}")

    async def check() -> tuple[str, int]:
        await store.open()
        conn = store._db.conn()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = conn.execute("PRAGMA synchronous").fetchone()[0]
        await store.close()
        return mode, sync

    assert asyncio.run(check()) == ("wal", 2)  # WAL + synchronous=FULL


def test_readers_get_the_configured_cache_and_the_writer_a_small_one(tmp_path: Path) -> None:
    """The writer's cache stays small (it would only fill: docs/performance.md, soak)."""
    store = SQLiteStore(f"sqlite:///{tmp_path / 'c.db'}", cache_mib=64)

    def cache_kib() -> int:
        return -store._db.conn().execute("PRAGMA cache_size").fetchone()[0]

    async def check() -> tuple[int, int]:
        await store.open()
        try:
            return cache_kib(), await store._db.write(cache_kib)
        finally:
            await store.close()

    assert asyncio.run(check()) == (64 * 1024, WRITER_CACHE_MIB * 1024)


def test_readers_keep_a_small_cache_while_the_database_changes(tmp_path: Path) -> None:
    """SQLite empties a reader's cache at every commit of another connection, so while
    writes come the readers keep a small one; once writes stop, the full one again."""
    path = tmp_path / "changing.db"
    store = SQLiteStore(f"sqlite:///{path}", cache_mib=64, quiet_seconds=0.5)
    look = LOOK_EVERY_SECONDS + 0.05

    def reader_cache_kib() -> int:
        return -store._db.conn().execute("PRAGMA cache_size").fetchone()[0]

    async def check() -> list[int]:
        await store.open()
        other = sqlite3.connect(path, isolation_level=None)  # another process's writes
        try:
            seen = [reader_cache_kib()]
            await asyncio.sleep(look)
            seen.append(reader_cache_kib())  # nothing written: the full cache
            other.execute("CREATE TABLE scratch (x)")
            await asyncio.sleep(look)
            seen.append(reader_cache_kib())
            for n in range(3):  # keeps changing: stays small
                other.execute("INSERT INTO scratch VALUES (?)", (n,))
                await asyncio.sleep(look)
                seen.append(reader_cache_kib())
            await asyncio.sleep(0.5 + look)
            seen.append(reader_cache_kib())  # quiet again
            return seen
        finally:
            other.close()
            await store.close()

    full, small = 64 * 1024, CHANGING_CACHE_MIB * 1024
    assert asyncio.run(check()) == [full, full, small, small, small, small, full]


def _shm_locks(path: Path) -> list[str]:
    """This process's POSIX locks on the database's -shm file, from /proc/locks."""
    inode = os.stat(f"{path}-shm").st_ino
    with open("/proc/locks") as locks:
        return [
            line.split(maxsplit=1)[1]
            for line in locks
            if f" {os.getpid()} " in line and f":{inode} " in line
        ]


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads locks from /proc/locks")
def test_watching_the_wal_index_keeps_sqlites_lock_on_it(tmp_path: Path) -> None:
    """SQLite's lock on the -shm tells other processes that this one has the database
    open. Closing any descriptor of the file drops the process's locks on it, and the
    next process to open the database would then reset the -shm under our connections
    (it truncates the file: a SIGBUS where a connection has it mapped)."""
    path = tmp_path / "watched.db"
    store = SQLiteStore(f"sqlite:///{path}")
    child = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        " print(c.execute('SELECT count(*) FROM threads').fetchone()[0]); c.close()"
    )

    async def check() -> tuple[list[str], list[str], list[str]]:
        await store.open()
        await store.list_threads("p", PageQuery())
        try:
            before = _shm_locks(path)
            assert store._db.wal_header() is not None
            watching = _shm_locks(path)
            subprocess.run([sys.executable, "-c", child, str(path)], check=True)
            await store.list_threads("p", PageQuery())
            return before, watching, _shm_locks(path)
        finally:
            await store.close()

    before, watching, after = asyncio.run(check())
    assert before and watching == before and after == before


def test_waiting_transactions_commit_together_and_fail_alone(tmp_path: Path) -> None:
    """Transactions queued while the writer is busy go to disk in one commit; one that
    fails (a duplicate id, an error after a write of its own) leaves the others in."""
    store = SQLiteStore(f"sqlite:///{tmp_path / 'g.db'}")
    project = "p_group"

    def item(n: int | str) -> ItemRow:
        return ItemRow(f"cthi_{n}", "cthr_g", 1_000 + hash(n) % 1000, "rest", None, "{}")

    def writes_then_fails(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO items (project, thread_id, id, created_us, shape, payload)"
            " VALUES (?, 'cthr_g', 'cthi_doomed', 1, 'rest', '{}')",
            (project,),
        )
        raise ValueError("after a write")

    async def check() -> tuple[list[object], int, list[str]]:
        await store.open()
        try:
            await store.import_rows(project, [ThreadRow("cthr_g", "u", 1, None, ACTIVE)], [])
            commits: list[str] = []

            def trace() -> None:
                store._db.conn().set_trace_callback(
                    lambda sql: commits.append(sql) if sql == "COMMIT" else None
                )

            await store._db.write(trace)
            gate = threading.Event()
            blocked = asyncio.ensure_future(store._db.write(gate.wait))
            jobs = [store.insert_item(project, item(n)) for n in range(20)]
            jobs.insert(10, store._db.transaction(writes_then_fails))
            jobs.append(store.insert_item(project, item(0)))
            tasks = [asyncio.ensure_future(job) for job in jobs]
            for _ in range(1_000):
                if len(store._db._pending) == len(tasks):
                    break
                await asyncio.sleep(0)
            assert len(store._db._pending) == len(tasks)
            gate.set()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            await blocked
            page = await store.list_items(
                project, "cthr_g", PageQuery(limit=100, order="asc"), rest_only=False
            )
            return outcomes, len(commits), sorted(r.id for r in page.rows)
        finally:
            await store.close()

    outcomes, commits, stored = asyncio.run(check())
    assert [type(o).__name__ for o in outcomes] == (
        ["NoneType"] * 10 + ["ValueError"] + ["NoneType"] * 10 + ["DuplicateId"]
    )
    assert isinstance(outcomes[-1], DuplicateId)
    assert commits == 1
    assert stored == sorted(f"cthi_{n}" for n in range(20))


def test_a_write_lock_held_too_long_elsewhere_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    store = SQLiteStore(f"sqlite:///{path}", busy_timeout_ms=200)

    async def check() -> None:
        await store.open()
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # as a long import in another process does
            with pytest.raises(StoreUnavailable):
                await store.import_rows("p", [ThreadRow("cthr_1", "u", 1, "t", ACTIVE)], [])
            other.execute("ROLLBACK")
            await store.import_rows("p", [ThreadRow("cthr_1", "u", 1, "t", ACTIVE)], [])
            assert await store.get_thread("p", "cthr_1") is not None
        finally:
            other.close()
            await store.close()

    asyncio.run(check())


def test_an_old_file_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first = migrations.load("sqlite")[0]
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at INTEGER NOT NULL)"
    )
    for statement in _statements(first.sql):
        conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations VALUES (1, ?, 0)", (first.name,))
    conn.execute(
        "INSERT INTO threads (project, id, user_id, created_us, title, status)"
        " VALUES ('default', 'cthr_old', 'u', 1, 'kept', '{\"type\":\"active\"}')"
    )
    conn.commit()
    conn.close()

    store = SQLiteStore(f"sqlite:///{path}")

    async def reopen() -> tuple[int, str | None]:
        await store.open()
        version = await store.schema_version()
        row = await store.get_thread("default", "cthr_old")
        await store.close()
        return version, row.title if row else None

    assert asyncio.run(reopen()) == (migrations.latest_version("sqlite"), "kept")
    # opening again applies nothing twice
    again = SQLiteStore(f"sqlite:///{path}")
    assert asyncio.run(again.schema_version()) == migrations.latest_version("sqlite")
    asyncio.run(again.open())
    assert again.migrations_applied == ()
    count = sqlite3.connect(path).execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    assert count == migrations.latest_version("sqlite")


def test_the_import_helper_starts_without_the_protocol_models() -> None:
    """The bulk import's helper process imports only ``sqlite.bulk``: the rest of the
    store pulls in the protocol models, 0.6 s of start-up the importer waits for."""
    code = (
        "import sys, threadkit.stores.sqlite.bulk;"
        " print(sorted(m for m in ('chatkit', 'pydantic', 'threadkit.stores.base')"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
