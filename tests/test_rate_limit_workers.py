"""A session's rate limit holds across the worker processes of one server
(``threadkit serve --workers 2``), on both backends: the window is shared, so the two
workers together admit exactly the session's limit, and refused requests do not count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.chatkit_helpers import new_session
from tests.conftest import Server, start_server, stop_server
from tests.processes import children

LIMIT = 12


@pytest.fixture(scope="module")
def two_workers(
    database: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend, url = database
    server = start_server(url, backend, tmp_path_factory.mktemp("workers"), "--workers", "2")
    yield server
    stop_server(server)


def _statuses(server: Server, secret: str, requests: int) -> Counter[int]:
    """Status codes of ``requests`` concurrent ``threads.list`` calls, each on a
    connection of its own, so that both workers get some."""

    def one(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            return client.post(
                "/chatkit",
                json={"type": "threads.list", "params": {}},
                headers={"Authorization": f"Bearer {secret}"},
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        return Counter(pool.map(one, range(requests)))


def test_the_limit_holds_across_two_workers(two_workers: Server, project: str) -> None:
    session = new_session(
        two_workers, project, "alice", rate_limits={"max_requests_per_1_minute": LIMIT}
    )
    statuses = _statuses(two_workers, session.client_secret, 3 * LIMIT)
    assert statuses == Counter({200: LIMIT, 429: 2 * LIMIT})
    # Refused requests were not counted, and the window is still full for everyone.
    statuses = _statuses(two_workers, session.client_secret, 8)
    assert statuses == Counter({429: 8})
    # Another session has a window of its own.
    other = new_session(two_workers, project, "alice", rate_limits={"max_requests_per_1_minute": 2})
    statuses = _statuses(two_workers, other.client_secret, 6)
    assert statuses == Counter({200: 2, 429: 4})


def test_both_workers_served(two_workers: Server) -> None:
    """The server really runs two worker processes answering on the port (else the test
    above would prove nothing about sharing)."""
    found = children(two_workers.process.pid)
    assert len(found) >= 2, found
