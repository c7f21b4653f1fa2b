"""A session's rate limit holds across the worker processes of one server
(``threadkit serve --workers 2``), on both backends: the window is shared, so the two
workers together admit exactly the session's limit, and refused requests do not count;
with a limit large enough for the workers to lease slots several at a time too."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.chatkit_helpers import new_session
from tests.conftest import Server, start_server, stop_server
from tests.processes import children
from threadkit.services.ratelimit import SWEEP_SECONDS

LIMIT = 12
#: a limit that leaves room for leases of several slots (an eighth of the room: 50)
LEASED = 400


@pytest.fixture(scope="module")
def two_workers(
    database: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend, url = database
    server = start_server(url, backend, tmp_path_factory.mktemp("workers"), "--workers", "2")
    yield server
    stop_server(server)


def _status(server: Server, secret: str) -> int:
    """The status of a ``threads.list`` call on a connection of its own, so that both
    workers get some."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.post(
            "/chatkit",
            json={"type": "threads.list", "params": {}},
            headers={"Authorization": f"Bearer {secret}"},
        ).status_code


def _statuses(server: Server, secret: str, requests: int, at_once: int = 8) -> Counter[int]:
    """Status codes of ``requests`` calls, ``at_once`` at a time."""
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        return Counter(pool.map(lambda _: _status(server, secret), range(requests)))


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


def test_leased_slots_never_exceed_the_limit_and_come_back(
    two_workers: Server, project: str
) -> None:
    """With a limit large enough for the workers to take slots several at a time, the
    two never admit more than the limit; a burst may end with slots one of them leased
    and did not use, which count (the other refuses) until they are given back, within
    a bucket plus the sweep interval. After that the window admits exactly what is left
    of the limit, refused requests counting for nothing."""
    session = new_session(
        two_workers, project, "alice", rate_limits={"max_requests_per_1_minute": LEASED}
    )
    secret = session.client_secret
    # two bursts, the first below the limit: each may end with slots leased and unused
    admitted = 0
    for requests in (350, 250):
        burst = _statuses(two_workers, secret, requests, at_once=32)
        assert set(burst) <= {200, 429}
        admitted += burst[200]
        assert admitted <= LEASED
    # one request at a time; a refusal after a pause longer than a bucket plus the
    # sweep interval means the window is full
    paused = False
    while True:
        status = _status(two_workers, secret)
        if status == 200:
            admitted += 1
            assert admitted <= LEASED
            paused = False
            continue
        assert status == 429
        if paused:
            break
        time.sleep(SWEEP_SECONDS + 0.5)
        paused = True
    assert admitted == LEASED
    assert _statuses(two_workers, secret, 40, at_once=16) == Counter({429: 40})


def test_both_workers_served(two_workers: Server) -> None:
    """The server really runs two worker processes answering on the port (else the test
    above would prove nothing about sharing)."""
    found = children(two_workers.process.pid)
    assert len(found) >= 2, found
