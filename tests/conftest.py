"""Shared fixtures: a real threadkit server on a loopback port for each backend.

Every test that takes ``server`` runs once per backend (SQLite file, PostgreSQL).
PostgreSQL comes from ``THREADKIT_TEST_POSTGRES_URL`` (default: the local server on
127.0.0.1:5432); each test session gets its own fresh database there. Without a
reachable PostgreSQL the PostgreSQL runs are skipped with a loud reason, except
under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import openai
import orjson
import pytest

from threadkit.services.keys import KeyService
from threadkit.services.search_index import SearchIndexer
from threadkit.services.transfer import Importer
from threadkit.stores import ThreadStore, open_store

T = TypeVar("T")

POSTGRES_ADMIN_URL = os.environ.get(
    "THREADKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
#: the migration files, read from the source tree (what the stores should apply)
MIGRATIONS = Path(__file__).resolve().parent.parent / "threadkit" / "stores" / "migrations"
BACKENDS = ["sqlite", "postgres"]
#: the TLS settings of the tests' HTTP clients, made once: an httpx client makes its own
#: otherwise, loading the CA bundle, about 25 ms of CPU per client (the servers here are
#: plain HTTP on loopback, so it is never used)
TLS = ssl.create_default_context()
#: for polling a loopback server until it answers: one client, a failed request on it
#: costs 0.16 ms of CPU; it keeps no connection between requests
PROBE = httpx.Client(timeout=1, verify=TLS, limits=httpx.Limits(max_keepalive_connections=0))


# --- helpers --------------------------------------------------------------------------------


def run(coro: Awaitable[T]) -> T:
    """Run ``coro`` to its end. Inside a running event loop (Playwright's sync API keeps
    one running in the test's thread) ``asyncio.run`` refuses, so a worker thread runs it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_store(url: str, work: Callable[[ThreadStore], Awaitable[T]]) -> T:
    """Run ``work`` against a freshly opened store on ``url`` (the library, in-process)."""

    async def go() -> T:
        store = open_store(url)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return run(go())


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used for tests, or ``None`` when it can."""
    try:
        import asyncpg  # noqa: F401

        from threadkit.stores import postgres  # noqa: F401
    except ImportError as exc:
        return f"the PostgreSQL store cannot be imported: {exc}"

    async def probe() -> None:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
        await conn.close()

    try:
        run(probe())
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {exc!r}"
    return None


def create_postgres_database() -> str:
    """A new empty database on the test server; returns its URL."""
    import asyncpg

    name = f"threadkit_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    run(create())
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    import asyncpg

    name = url.rpartition("/")[2]

    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run(drop())


def database_url_for(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'threadkit.db'}"
    problem = postgres_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true and {problem}", pytrace=False)
        print(f"\n!!! SKIPPING PostgreSQL tests: {problem} !!!\n", file=sys.stderr)
        pytest.skip(f"PostgreSQL tests skipped: {problem}")
    return create_postgres_database()


# --- running in parallel (pytest-xdist, as scripts/test does) --------------------------------


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("exclusive") is not None and os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(
            "this test must run with no other test at the same time, not in a pytest-xdist"
            " worker: scripts/test runs the tests marked exclusive on their own"
            " (pytest -m exclusive)",
            pytrace=False,
        )


# --- the server -----------------------------------------------------------------------------


@dataclass
class Server:
    """A running ``threadkit serve`` process and the database it serves."""

    url: str  # http://127.0.0.1:PORT
    db: str
    backend: str
    process: subprocess.Popen[bytes]
    log: Path
    _keys: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def key(self, project: str) -> str:
        """An API key for ``project`` (made once per project)."""
        if project not in self._keys:
            created = with_store(self.db, lambda s: KeyService(s).create(project))
            self._keys[project] = created.secret
        return self._keys[project]

    def client(self, project: str, **options: Any) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=self.key(project), base_url=self.base_url, max_retries=0, **options
        )

    def async_client(self, project: str, **options: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self.key(project), base_url=self.base_url, max_retries=0, **options
        )

    def http(self, project: str | None = None, beta: bool = True) -> httpx.Client:
        """A plain HTTP client (for what the SDK cannot send), authenticated if asked."""
        headers = {}
        if project is not None:
            headers["Authorization"] = f"Bearer {self.key(project)}"
        if beta:
            headers["OpenAI-Beta"] = "chatkit_beta=v1"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=TLS)

    def seed(self, project: str, objects: list[dict[str, Any]], *, indexed: bool = False) -> None:
        """Store REST-shaped threads and items through the import service; ``indexed``:
        and index them for search before returning (``threadkit import --index-now``),
        where the servers' background indexing would be a race with the test."""
        lines = [orjson.dumps(o) for o in objects]

        async def work(store: ThreadStore) -> None:
            await Importer(store, project).run(lines)
            if indexed:
                await SearchIndexer(store).catch_up()

        with_store(self.db, work)


def start_server(
    db: str,
    backend: str,
    tmp: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Server:
    """``threadkit serve`` on ``db``, on ``port`` (default: a free one), once it answers."""
    port = port or free_port()
    log = tmp / f"server-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "threadkit", "serve", "--port", str(port), "--db", db, *extra],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"threadkit serve exited:\n{log.read_text()}")
        try:
            if PROBE.get(f"{url}/healthz").status_code == 200:
                return Server(url, db, backend, process, log)
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"threadkit serve did not start:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


class Kept:
    """What the session fixtures made, by key, kept to the end of the test session (of
    each pytest-xdist worker).

    A session fixture parametrized by backend, like ``database``, holds one backend at a
    time: pytest tears it down, and what depends on it such as ``server``, when a test of
    the other backend comes, and makes it again when the first backend comes back. In
    one process the tests come grouped by backend and that happens once; spread over
    worker processes a group of tests at a time, they would switch backends at every
    group. So the fixtures make their databases and servers here, once per backend."""

    def __init__(self) -> None:
        self._made: dict[Hashable, Any] = {}
        self._stack = ExitStack()

    def get(self, key: Hashable, make: Callable[[], AbstractContextManager[T]]) -> T:
        """What ``make()`` enters, made on the first call for ``key``; a failure (a skip
        too) is raised again on every later call, as pytest does for a fixture."""
        if key not in self._made:
            try:
                self._made[key] = self._stack.enter_context(make())
            except (Exception, pytest.skip.Exception, pytest.fail.Exception) as exc:
                self._made[key] = exc
        made = self._made[key]
        if isinstance(made, BaseException):
            raise made
        return made  # type: ignore[no-any-return]

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def kept() -> Iterator[Kept]:
    resources = Kept()
    yield resources
    resources.close()


@contextmanager
def new_database(backend: str, folder: Path) -> Iterator[tuple[str, str]]:
    """``(backend, url)`` of a new database (in ``folder`` for SQLite), dropped after."""
    url = database_url_for(backend, folder)
    try:
        yield backend, url
    finally:
        if backend == "postgres":
            drop_postgres_database(url)


@contextmanager
def serving(server: Server) -> Iterator[Server]:
    """``server``, stopped after."""
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, kept: Kept, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """``(backend, url)`` of a fresh database, once per backend for the session."""
    backend: str = request.param
    return kept.get(
        ("database", backend), lambda: new_database(backend, tmp_path_factory.mktemp(backend))
    )


@pytest.fixture(params=BACKENDS)
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``(backend, url)`` of a new, empty database for this test alone: for assertions on
    everything a database holds (a database-wide prune), which the shared ``database``
    cannot give, since other tests' rows are in it in whatever order the tests ran."""
    with new_database(request.param, tmp_path) as made:
        yield made


@pytest.fixture(scope="session")
def server(
    database: tuple[str, str], kept: Kept, tmp_path_factory: pytest.TempPathFactory
) -> Server:
    backend, url = database
    return kept.get(
        ("server", backend),
        lambda: serving(start_server(url, backend, tmp_path_factory.mktemp("logs"))),
    )


@pytest.fixture
def project() -> str:
    """A project of its own for each test, so tests never see each other's threads."""
    return f"proj_{uuid.uuid4().hex[:10]}"


# --- a server with workflows, attachments and CORS configured (ChatKit protocol tests) --


@pytest.fixture(scope="session")
def model_stand_in() -> Iterator[Any]:
    """A stand-in Chat Completions server on loopback (see tests/stand_in.py)."""
    from tests.stand_in import start_stand_in, stop_stand_in

    httpd = start_stand_in()
    yield httpd
    stop_stand_in(httpd)


@pytest.fixture(scope="session")
def chatkit_server(
    database: tuple[str, str],
    kept: Kept,
    tmp_path_factory: pytest.TempPathFactory,
    model_stand_in: Any,
) -> Server:
    """Per backend: the test workflows of tests/chatkit_helpers.py, an attachments
    folder and CORS."""
    from tests.chatkit_helpers import start_chatkit_server

    backend, url = database
    return kept.get(
        ("chatkit_server", backend),
        lambda: serving(
            start_chatkit_server(
                backend, url, tmp_path_factory.mktemp("chatkit"), model_stand_in.base_url
            )
        ),
    )
