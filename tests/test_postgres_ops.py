"""PostgreSQL in operation: query plans, a server restart under load, several worker
processes over one database, concurrent migrations, pool limits.

These run against the real server on 127.0.0.1:5432, each test on a database of its
own. The restart test stops and starts that server (it needs to be root on the host
that runs PostgreSQL) and always leaves it running.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openai
import pytest

from tests import helpers
from tests.conftest import (
    IN_CI,
    MIGRATIONS,
    Server,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    postgres_problem,
    run,
    start_server,
    stop_server,
)
from threadkit.config import store_options
from threadkit.stores import migrations, open_store
from threadkit.stores.errors import StoreUnavailable
from threadkit.stores.postgres import PostgresStore
from threadkit.stores.postgres.listings import LISTINGS, request_path_queries
from threadkit.stores.postgres.queries import Query
from threadkit.stores.records import FeedbackRow, ItemRow, KeyRow, PageQuery, SessionRow, ThreadRow

PG_HOST = "127.0.0.1"


def _unusable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    print(f"\n!!! SKIPPING PostgreSQL operations tests: {reason} !!!\n", file=sys.stderr)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty database on the test server."""
    problem = postgres_problem()
    if problem is not None:
        _unusable(problem)
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)


def open_pg(url: str, **options: Any) -> PostgresStore:
    store = PostgresStore(url, **options)
    run(store.open())
    return store


# --- query plans ----------------------------------------------------------------------------


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


async def _seed_for_plans(store: PostgresStore) -> dict[str, Any]:
    """A few thousand rows over many projects, threads, users and sessions."""
    # One big project (with one long thread) among many small ones: the plans must
    # suit both, and a prepared statement's generic plan must suit the big one.
    threads: list[ThreadRow] = []
    sizes = {f"proj_{p}": (25, 4) for p in range(1, 40)}
    sizes["proj_0"] = (3000, 2)
    for project, (thread_count, item_count) in sizes.items():
        rows = [
            ThreadRow(
                f"cthr{project[4:]}_{t}", f"user_{t % 30}", 1_000_000 + t, "t", {"type": "active"}
            )
            for t in range(thread_count)
        ]
        long_thread = rows[thread_count // 2].id
        rows_items = [
            ItemRow(
                f"cthi{row.id[4:]}_{k}",
                row.id,
                2_000_000 + k,
                "rest",
                None if k % 4 == 3 else "chatkit.widget",
                "{}",
            )
            for row in rows
            for k in range(1000 if row.id == long_thread else item_count)
        ]
        await store.import_rows(project, rows, rows_items)
        threads += rows
    project = "proj_0"
    sample = next(t for t in threads if t.id == "cthr_0_1500")

    async def fan_out(calls: list[Any]) -> None:
        for start in range(0, len(calls), 50):
            await asyncio.gather(*calls[start : start + 50])

    await fan_out(
        [
            store.create_key(KeyRow(f"key_{n}", f"proj_{n % 40}", "sk-...", n), f"hash_{n}")
            for n in range(600)
        ]
    )
    await fan_out(
        [
            store.put_attachment(f"proj_{n % 40}", f"att_{n}", "user_0", t.id, "{}")
            for n, t in enumerate(threads[::3])
        ]
    )
    await fan_out(
        [
            store.create_session(
                SessionRow(
                    f"cksess_{n}",
                    f"proj_{n % 40}",
                    "user_0",
                    "ek_...",
                    100,
                    10_000 + n,
                    {"id": "wf"},
                    10,
                    {},
                ),
                f"secret_{n}",
            )
            for n in range(600)
        ]
    )
    await fan_out(
        [
            store.take_request_slot(
                f"proj_{n % 40}", f"cksess_{n % 600}", 5_000_000 + n, 99, 60_000
            )
            for n in range(1200)
        ]
    )
    await fan_out(
        [
            store.put_feedback(
                f"proj_{n % 40}",
                [FeedbackRow(t.id, f"{t.id}_i", f"user_{n % 5}", "positive", 100)],
            )
            for n, t in enumerate(threads[::3])
        ]
    )
    return {
        "project": project,
        "thread_id": sample.id,
        "user": sample.user,
        "item_id": f"cthi{sample.id[4:]}_1",
        "cursor_id": sample.id,
        "after_id": sample.id,
        "before_id": sample.id,
        "created_us": 2_000_001,
        "after_seq": 100,
        "limit": 21,
        "shape": "rest",
        "rest_type": "chatkit.widget",
        "payload": "{}",
        "title": "t",
        "status": '{"type":"active"}',
        "extra": None,
        "attachment_id": "att_7",
        "secret_hash": "hash_7",
        "session_id": "cksess_7",
        "secret_hint": "ek_...",
        "created_at": 100,
        "expires_at": 10_007,
        "cancelled_at": None,
        "workflow": '{"id":"wf"}',
        "rate_limit": 10,
        "configuration": "{}",
        "files_used": 0,
        "at": 200,
        "max_files": 5,
        "now_ms": 5_060_000,
        "window_ms": 60_000,
        "bucket_ms": 100,
        "want": 4,
        "back_bucket": 50_590,
        "back": 2,
        "purge": True,
        "thread_ids": [sample.id],
        "item_ids": ["cthi_x"],
        "users": [sample.user],
        "kinds": ["negative"],
        "created_ats": [100],
    }


def test_request_path_queries_use_indexes(pg_url: str) -> None:
    """No request-path statement plans a sequential scan, with the values of a request
    (custom plan) or without them (the generic plan a prepared statement may switch to).
    List pages read an index; a big list's first page, and every generic plan, read it in
    order with no sort (a custom plan may sort the few rows of a narrow cursor window)."""

    async def check() -> dict[str, str]:
        conn = await asyncpg.connect(pg_url)
        try:  # seeding speed only: this database's commits need not wait for the disk
            await conn.execute(
                f'ALTER DATABASE "{pg_url.rpartition("/")[2]}" SET synchronous_commit = off'
            )
        finally:
            await conn.close()
        store = PostgresStore(pg_url)
        await store.open()
        try:
            values = await _seed_for_plans(store)
        finally:
            await store.close()
        conn = await asyncpg.connect(pg_url)
        plans: dict[str, str] = {}
        try:
            # A busy server's windows: with a few hundred rows a sequential scan is
            # rightly the cheapest plan, and the planner's pick would be a coin toss.
            await conn.execute(
                "INSERT INTO session_buckets (project, session_id, bucket, n)"
                " SELECT 'proj_' || (g % 40), 'cksess_' || (g % 600), 50000 + g / 600, 1"
                " FROM generate_series(1, 50000) AS g ON CONFLICT DO NOTHING"
            )
            await conn.execute("ANALYZE")
            listing_queries = {q.sql for q in _listing_pages()}
            for name, query in request_path_queries():
                args = ", ".join(_literal(values[p]) for p in query.params)
                await conn.execute(f"PREPARE q AS {query.sql}")
                for mode in ("force_custom_plan", "force_generic_plan"):
                    await conn.execute(f"SET plan_cache_mode = {mode}")
                    lines = await conn.fetch(f"EXPLAIN EXECUTE q{f'({args})' if args else ''}")
                    plan = "\n".join(r[0] for r in lines)
                    plans[f"{name} [{mode}]"] = plan
                    if query.sql in listing_queries:
                        assert "Index" in plan, f"{name} [{mode}]:\n{plan}"
                        first_page = "after" not in name and "before" not in name
                        if mode == "force_generic_plan" or first_page:
                            assert not re.search(r"\bSort\b", plan), f"{name} [{mode}]:\n{plan}"
                await conn.execute("DEALLOCATE q")
        finally:
            await conn.close()
        return plans

    plans = run(check())
    assert len(plans) >= 2 * 40  # every listing variant, both plan modes, and the rest
    scans = {name: plan for name, plan in plans.items() if "Seq Scan" in plan}
    assert not scans, "sequential scans on request paths:\n" + "\n\n".join(
        f"{name}:\n{plan}" for name, plan in scans.items()
    )


def _listing_pages() -> Iterator[Query]:
    for listing in LISTINGS:
        for order in ("asc", "desc"):
            for after in (False, True):
                for before in (False, True):
                    yield listing.page(order, after, before)  # type: ignore[arg-type]


# --- faults ---------------------------------------------------------------------------------


def _cluster() -> tuple[str, str] | None:
    """(version, name) of the local cluster, when this process can control it."""
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        return None
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    return (versions[-1], "main") if versions else None


async def _pg_ctl(cluster: tuple[str, str], action: str, mode: str = "fast") -> None:
    proc = await asyncio.create_subprocess_exec(
        "pg_ctlcluster",
        "--skip-systemctl-redirect",
        "-m",
        mode,
        *cluster,
        action,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, f"pg_ctlcluster {action} failed: {out.decode()}"


def _pg_ready() -> bool:
    return (
        subprocess.run(
            ["pg_isready", "-h", PG_HOST, "-p", "5432", "-t", "1"], capture_output=True
        ).returncode
        == 0
    )


async def _wait_ready(seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not _pg_ready():
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        await asyncio.sleep(0.1)


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["type"] == "service_unavailable_error"
    assert error["code"] == "service_unavailable"
    assert set(error) == {"message", "type", "param", "code"}
    assert response.headers["retry-after"] == "1"


@pytest.mark.exclusive  # it restarts the PostgreSQL server other tests use
def test_a_database_restart_gives_503s_then_recovers_without_losing_data(
    pg_url: str, tmp_path: Path
) -> None:
    cluster = _cluster()
    if cluster is None:
        _unusable("restarting PostgreSQL needs pg_ctlcluster and root")
    project = f"proj_{uuid.uuid4().hex[:10]}"
    threads = [helpers.thread(created_at=1_712_000_000 + n) for n in range(7)]
    seeded: list[dict[str, Any]] = []
    for t in threads:
        seeded += [t, helpers.user_message(t["id"]), helpers.assistant_message(t["id"])]
    srv = start_server(pg_url, "postgres", tmp_path)
    try:
        srv.seed(project, seeded)
        key = srv.key(project)
        run(_restarts_under_load(srv, key, pg_url, project, [t["id"] for t in threads], cluster))
    finally:
        if not _pg_ready():
            run(_pg_ctl(cluster, "start"))
            run(_wait_ready())
        stop_server(srv)
    log = srv.log.read_text()
    assert "Traceback" not in log, log
    assert "database unavailable" in log  # the 503s were logged, one line each


async def _wait_recovered(http: httpx.AsyncClient) -> httpx.Response:
    """Poll until the API answers again (at most 10 s), accepting only 503s meanwhile."""
    back = time.monotonic()
    while True:
        response = await http.get("/v1/chatkit/threads", params={"limit": 100})
        if response.status_code == 200:
            print(f"recovered {time.monotonic() - back:.2f}s after PostgreSQL accepted connections")
            return response
        _assert_unavailable(response)
        assert time.monotonic() - back < 10, "threadkit did not recover"
        await asyncio.sleep(0.1)


async def _restarts_under_load(
    srv: Server,
    key: str,
    pg_url: str,
    project: str,
    thread_ids: list[str],
    cluster: tuple[str, str],
) -> None:
    headers = {"Authorization": f"Bearer {key}", "OpenAI-Beta": "chatkit_beta=v1"}
    store = PostgresStore(pg_url, pool_min=2, connect_timeout=3, acquire_timeout=3)
    await store.open()
    async with httpx.AsyncClient(base_url=srv.url, headers=headers, timeout=20) as http:
        # An acknowledged delete before the restart.
        assert (await http.delete(f"/v1/chatkit/threads/{thread_ids[0]}")).status_code == 200
        assert (await store.get_thread(project, thread_ids[1])) is not None

        # 1. Requests in flight when the server dies. A lock holds them in the database;
        # the stop is "immediate" (no backend finishes anything, as in a crash), so each
        # of them deterministically loses its connection mid-statement. A "fast" stop
        # would end them with an admin-shutdown error instead, or let some finish when
        # the lock holder exits first.
        admin = await asyncpg.connect(pg_url)
        await admin.execute("BEGIN; LOCK TABLE threads IN ACCESS EXCLUSIVE MODE")
        in_flight = [
            asyncio.create_task(http.get("/v1/chatkit/threads")),
            asyncio.create_task(http.get(f"/v1/chatkit/threads/{thread_ids[1]}")),
            asyncio.create_task(http.delete(f"/v1/chatkit/threads/{thread_ids[2]}")),
            asyncio.create_task(store.list_threads(project, PageQuery())),
        ]
        # (read outside the locking transaction: inside one, pg_stat_activity is a
        # snapshot taken at the first read)
        monitor = await asyncpg.connect(pg_url)
        for _ in range(200):
            waiting = await monitor.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = $1 AND wait_event_type = 'Lock'",
                pg_url.rpartition("/")[2],
            )
            if waiting >= len(in_flight):
                break
            await asyncio.sleep(0.05)
        await monitor.close()
        assert waiting >= len(in_flight), "the requests never reached the database"

        await _pg_ctl(cluster, "stop", mode="immediate")
        try:
            *responses, store_call = await asyncio.gather(*in_flight, return_exceptions=True)
            for response in responses:
                assert isinstance(response, httpx.Response), repr(response)
                _assert_unavailable(response)
            assert isinstance(store_call, StoreUnavailable), repr(store_call)

            # While it is down: immediate 503s, through the official SDK as well.
            for path in ("/v1/chatkit/threads", f"/v1/chatkit/threads/{thread_ids[3]}/items"):
                _assert_unavailable(await http.get(path))
            _assert_unavailable(await http.delete(f"/v1/chatkit/threads/{thread_ids[3]}"))
            client = openai.AsyncOpenAI(
                api_key=key, base_url=srv.base_url, max_retries=0, timeout=20
            )
            with pytest.raises(openai.APIStatusError) as caught:
                await client.beta.chatkit.threads.list()
            assert caught.value.status_code == 503
            assert caught.value.type == "service_unavailable_error"
            with pytest.raises(StoreUnavailable):
                await store.get_thread(project, thread_ids[1])
            admin.terminate()
        finally:
            await _pg_ctl(cluster, "start")
        await _wait_ready()
        await _wait_recovered(http)
        assert (await store.get_thread(project, thread_ids[1])) is not None
        assert (await http.delete(f"/v1/chatkit/threads/{thread_ids[4]}")).status_code == 200

        # 2. A plain restart ("fast": sessions are ended cleanly) while the pools hold
        # idle connections: they are replaced by themselves.
        await _pg_ctl(cluster, "restart")
        await _wait_ready()
        await _wait_recovered(http)
        assert (await store.get_thread(project, thread_ids[1])) is not None
        assert (await http.delete(f"/v1/chatkit/threads/{thread_ids[5]}")).status_code == 200
        listed = await http.get("/v1/chatkit/threads", params={"limit": 100})

        # Nothing acknowledged was lost: the acknowledged deletes hold, every other
        # thread is there with its items; the delete in flight was not acknowledged and
        # its transaction never committed.
        gone = {thread_ids[0], thread_ids[4], thread_ids[5]}
        assert not gone & {t["id"] for t in listed.json()["data"]}
        for thread_id in gone:
            assert (await http.get(f"/v1/chatkit/threads/{thread_id}")).status_code == 404
        for thread_id in set(thread_ids) - gone:
            items = await http.get(f"/v1/chatkit/threads/{thread_id}/items")
            assert items.status_code == 200
            assert len(items.json()["data"]) == 2
    await store.close()


def test_an_unreachable_database_fails_fast_with_store_unavailable() -> None:
    store = PostgresStore(f"postgresql://postgres@{PG_HOST}:{free_port()}/nothing_here")
    with pytest.raises(StoreUnavailable):
        run(store.open())


def test_an_exhausted_pool_gives_store_unavailable_not_a_hang(pg_url: str) -> None:
    async def check() -> None:
        store = PostgresStore(pg_url, pool_min=1, pool_max=1, acquire_timeout=0.5)
        await store.open()
        admin = await asyncpg.connect(pg_url)
        try:
            await store.import_rows("p", [ThreadRow("cthr_1", "u", 1, "t", {"type": "active"})], [])
            await admin.execute("BEGIN; LOCK TABLE threads IN ACCESS EXCLUSIVE MODE")
            busy = asyncio.create_task(store.get_thread("p", "cthr_1"))
            await asyncio.sleep(0.2)  # `busy` holds the only connection, waiting on the lock
            with pytest.raises(StoreUnavailable):
                await store.get_thread("p", "cthr_1")
            await admin.execute("ROLLBACK")
            assert (await busy) is not None
            assert (await store.get_thread("p", "cthr_1")) is not None
        finally:
            await admin.close()
            await store.close()

    run(check())


def test_a_connection_killed_inside_a_transaction_gives_store_unavailable(pg_url: str) -> None:
    """The server ends the session mid-import: the caller gets ``StoreUnavailable`` (a 503
    over HTTP), nothing of the import is kept, and the store goes on working."""

    async def check() -> None:
        store = PostgresStore(pg_url, pool_min=1, pool_max=2)
        await store.open()
        admin = await asyncpg.connect(pg_url)
        try:
            thread = ThreadRow("cthr_killed", "u", 1, "t", {"type": "active"})
            item = ItemRow("cthi_killed", thread.id, 1, "rest", "chatkit.widget", "{}")
            await admin.execute("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
            importing = asyncio.create_task(store.import_rows("p", [thread], [item]))
            waiting = None
            for _ in range(100):  # until the import waits on the lock, inside its transaction
                waiting = await admin.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'threadkit'"
                    " AND wait_event_type = 'Lock' AND datname = current_database()"
                )
                if waiting is not None:
                    break
                await asyncio.sleep(0.05)
            assert waiting is not None
            await admin.execute("SELECT pg_terminate_backend($1)", waiting)
            await admin.execute("ROLLBACK")
            with pytest.raises(StoreUnavailable):
                await importing
            assert await store.get_thread("p", thread.id) is None
            await store.import_rows("p", [thread], [item])
            assert await store.get_thread("p", thread.id) is not None
        finally:
            await admin.close()
            await store.close()

    run(check())


# --- several processes ----------------------------------------------------------------------


def _pid_connection(
    srv: Server, headers: dict[str, str], not_pid: int | None
) -> tuple[httpx.Client, int]:
    """A fresh keep-alive connection, and the pid of the worker process that answers on it."""
    for _ in range(200):
        client = httpx.Client(base_url=srv.url, headers=headers, timeout=20)
        pid = client.get("/healthz").json()["pid"]
        if pid != not_pid:
            return client, pid
        client.close()
    raise AssertionError("only one worker process ever answered")


def test_two_workers_see_each_others_writes_at_once(pg_url: str, tmp_path: Path) -> None:
    project = f"proj_{uuid.uuid4().hex[:10]}"
    threads = [helpers.thread(created_at=1_712_000_000 + n) for n in range(4)]
    srv = start_server(pg_url, "postgres", tmp_path, "--workers", "2")
    try:
        srv.seed(project, threads)
        headers = {"Authorization": f"Bearer {srv.key(project)}", "OpenAI-Beta": "chatkit_beta=v1"}
        first, first_pid = _pid_connection(srv, headers, None)
        second, second_pid = _pid_connection(srv, headers, first_pid)
        assert first_pid != second_pid
        for writer, reader, thread in ((first, second, threads[0]), (second, first, threads[1])):
            # the same connection is still served by the same process
            assert writer.get("/healthz").json()["pid"] != reader.get("/healthz").json()["pid"]
            assert reader.get(f"/v1/chatkit/threads/{thread['id']}").status_code == 200
            assert writer.delete(f"/v1/chatkit/threads/{thread['id']}").status_code == 200
            assert reader.get(f"/v1/chatkit/threads/{thread['id']}").status_code == 404
            listed = reader.get("/v1/chatkit/threads").json()["data"]
            assert thread["id"] not in {t["id"] for t in listed}
        remaining = first.get("/v1/chatkit/threads", params={"order": "asc"}).json()["data"]
        assert [t["id"] for t in remaining] == [threads[2]["id"], threads[3]["id"]]
        first.close()
        second.close()
    finally:
        stop_server(srv)


def test_concurrent_migrations_apply_each_version_once(pg_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "threadkit", "migrate", "--db", pg_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs

    async def recorded() -> list[int]:
        conn = await asyncpg.connect(pg_url)
        try:
            rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
            await conn.fetchval("SELECT count(*) FROM threads")  # the schema is there
            return [r[0] for r in rows]
        finally:
            await conn.close()

    latest = migrations.latest_version("postgres")
    assert run(recorded()) == list(range(1, latest + 1))
    files = sorted(p.stem for p in MIGRATIONS.joinpath("postgres").glob("*.sql"))
    reports = [[line for line in out.splitlines() if "applied" in line] for out in outputs]
    assert sorted(reports) == [[], [], [], [f"postgres: applied {', '.join(files)}"]]
    assert all(f"schema is up to date (version {len(files)})" in out for out in outputs)


def test_an_old_database_is_upgraded_and_keeps_its_data(pg_url: str) -> None:
    async def check() -> None:
        first = migrations.load("postgres")[0]
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
            )
            await conn.execute(first.sql)
            await conn.execute("INSERT INTO schema_migrations VALUES (1, $1, 0)", first.name)
            await conn.execute(
                "INSERT INTO threads (project, id, user_id, created_us, title, status)"
                " VALUES ('default', 'cthr_old', 'u', 1, 'kept', '{\"type\":\"active\"}')"
            )
        finally:
            await conn.close()
        store = PostgresStore(pg_url)
        await store.open()
        try:
            assert await store.schema_version() == migrations.latest_version("postgres")
            row = await store.get_thread("default", "cthr_old")
            assert row is not None and row.title == "kept"
            assert await store.migrate() == migrations.latest_version("postgres")
        finally:
            await store.close()

    run(check())


# --- settings -------------------------------------------------------------------------------


def test_pool_settings_come_from_the_environment(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADKIT_PG_POOL_MIN", "2")
    monkeypatch.setenv("THREADKIT_PG_POOL_MAX", "3")
    monkeypatch.setenv("THREADKIT_PG_STATEMENT_CACHE_SIZE", "0")

    async def check() -> tuple[int, int, int]:
        store = open_store(pg_url, **store_options(pg_url))
        override = PostgresStore(pg_url, **{**store_options(pg_url), "pool_max": 7})
        assert (override.pool.pool_min, override.pool.pool_max) == (2, 7)
        await store.open()
        try:
            # Without a statement cache (as behind a transaction-mode pooler) it all works.
            await store.import_rows("p", [ThreadRow("cthr_1", "u", 1, "t", {"type": "active"})], [])
            for _ in range(3):
                assert (await store.list_threads("p", PageQuery())).rows[0].id == "cthr_1"
            assert isinstance(store, PostgresStore)
            pool = store.pool._pool
            assert pool is not None
            conn = await asyncpg.connect(pg_url)
            try:
                connections = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = $1 AND application_name = 'threadkit'",
                    pg_url.rpartition("/")[2],
                )
            finally:
                await conn.close()
            return pool.get_min_size(), pool.get_max_size(), connections
        finally:
            await store.close()

    min_size, max_size, connections = run(check())
    assert (min_size, max_size) == (2, 3)
    assert 2 <= connections <= 3
    monkeypatch.setenv("THREADKIT_PG_POOL_MAX", "lots")
    with pytest.raises(ValueError, match="THREADKIT_PG_POOL_MAX"):
        store_options(pg_url)
