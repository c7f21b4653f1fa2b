"""The rate limiter's leases (``threadkit.services.ratelimit``) on a real store of each
backend, with a clock the test moves: requests of one bucket are admitted from a lease
without a store check, the unused slots are given back by the next check or the sweep,
the window counts exactly what was admitted once they are, the limit holds exactly
under concurrency, and refused requests are not counted."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import with_store
from threadkit.services import ratelimit
from threadkit.services.errors import RateLimited
from threadkit.services.ratelimit import RateLimiter
from threadkit.stores import ThreadStore
from threadkit.stores.records import SessionRow

Database = tuple[str, str]
#: the start of a bucket
T = 1_700_000_000_000
WINDOW = 60_000


class Clock:
    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self) -> int:
        return self.at


def session(limit: int) -> SessionRow:
    return SessionRow(
        id=f"cksess_{uuid.uuid4().hex}",
        project=f"proj_{uuid.uuid4().hex[:10]}",
        user="u",
        secret_hint="ek_…",
        created_at=T // 1000,
        expires_at=T // 1000 + 600,
        workflow={"id": "echo"},
        rate_limit=limit,
        configuration={},
    )


async def counted(store: ThreadStore, row: SessionRow, at: int, expected: int) -> bool:
    """Whether the store's window of ``row`` counts exactly ``expected`` slots at ``at``
    (takes one more slot when it does)."""
    full = await store.take_request_slots(row.project, row.id, at, expected, WINDOW)
    room = await store.take_request_slots(row.project, row.id, at, expected + 1, WINDOW)
    return full.granted == 0 and room.granted == 1


async def admitted(limiter: RateLimiter, row: SessionRow, requests: int) -> int:
    async def one() -> bool:
        try:
            await limiter.admit(row)
        except RateLimited:
            return False
        return True

    return sum(await asyncio.gather(*(one() for _ in range(requests))))


def test_a_lease_serves_its_bucket_and_is_given_back(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        clock = Clock(T)
        limiter = RateLimiter(store, WINDOW, clock=clock)
        row = session(1_000)
        for _ in range(40):
            await limiter.admit(row)
        # leases grew with the demand: a few checks for 40 requests
        assert 2 <= limiter.store_checks <= 8
        # the next bucket's first request checks again and gives back what was left of
        # the first lease; the sweep, a bucket later, what was left of the second
        clock.at = T + 100
        checks = limiter.store_checks
        await limiter.admit(row)
        assert limiter.store_checks == checks + 1
        clock.at = T + 250
        assert await limiter.sweep() > 0
        assert await limiter.sweep() == 0  # nothing held any more
        assert await counted(store, row, T + 250, 41)
        # one check for the request, one for the sweep's give-back
        assert limiter.store_checks == checks + 2

    with_store(database[1], work)


def test_stop_gives_back_the_current_bucket_too(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        clock = Clock(T)
        limiter = RateLimiter(store, WINDOW, clock=clock)
        row = session(1_000)
        for _ in range(40):
            await limiter.admit(row)
        assert await limiter.sweep() == 0  # the lease's bucket is still the current one
        assert await limiter.sweep(everything=True) > 0
        assert await counted(store, row, T + 50, 40)

    with_store(database[1], work)


@pytest.mark.parametrize("limit", [12, 100])
def test_exactly_the_limit_under_concurrency(database: Database, limit: int) -> None:
    async def work(store: ThreadStore) -> None:
        clock = Clock(T + 30)
        limiters = [RateLimiter(store, WINDOW, clock=clock) for _ in range(2)]  # 2 processes
        row = session(limit)
        answers = await asyncio.gather(*(admitted(limiter, row, 150) for limiter in limiters))
        assert sum(answers) == limit
        # both held slots at the end, none is left unused
        for limiter in limiters:
            assert await limiter.sweep(everything=True) == 0
        assert await counted(store, row, T + 30, limit)
        # a refusal stands for the rest of its bucket in the process that got it
        checks = limiters[0].store_checks
        assert await admitted(limiters[0], row, 20) == 0
        assert limiters[0].store_checks == checks

    with_store(database[1], work)


def test_one_check_in_flight_per_session(database: Database) -> None:
    """Requests arriving while a check is in flight wait for it and take from its lease
    instead of checking too (without leases, 200 requests would take 200 checks)."""

    async def work(store: ThreadStore) -> None:
        limiter = RateLimiter(store, WINDOW, clock=Clock(T))
        row = session(10**6)
        assert await admitted(limiter, row, 200) == 200
        assert limiter.store_checks <= 10
        assert await limiter.sweep(everything=True) >= 0
        assert await counted(store, row, T, 200)

    with_store(database[1], work)


def test_refused_requests_are_not_counted(database: Database) -> None:
    async def work(store: ThreadStore) -> None:
        clock = Clock(T)
        limiter = RateLimiter(store, WINDOW, clock=clock)
        row = session(3)
        await limiter.admit(row)
        clock.at = T + 30_000
        await limiter.admit(row)
        await limiter.admit(row)
        for at in (T + 40_000, T + 40_050, T + 59_000, T + 60_098):
            clock.at = at
            with pytest.raises(RateLimited) as refused:
                await limiter.admit(row)
        # the first request's bucket leaves the window at T + 60 099
        assert refused.value.retry_after == 1
        clock.at = T + 60_099
        await limiter.admit(row)
        with pytest.raises(RateLimited) as refused:
            await limiter.admit(row)
        assert refused.value.retry_after == 30  # the two of T + 30 000: 30.099 s
        assert await counted(store, row, T + 60_099, 3)

    with_store(database[1], work)


def test_quiet_sessions_are_forgotten(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    async def work(store: ThreadStore) -> None:
        clock = Clock(T)
        limiter = RateLimiter(store, WINDOW, clock=clock)
        for _ in range(5):
            await limiter.admit(session(10))
        assert len(limiter._leases) == 5
        clock.at = T + 150  # the previous bucket's sessions are kept (the next lease's size)
        await limiter.sweep()
        assert len(limiter._leases) == 5
        clock.at = T + 250
        await limiter.sweep()
        assert len(limiter._leases) == 0
        # without the sweep, past MAX_SESSIONS the quiet ones go when a new one comes
        monkeypatch.setattr(ratelimit, "MAX_SESSIONS", 3)
        for _ in range(3):
            await limiter.admit(session(10))
        clock.at = T + 450
        busy = session(10)
        await limiter.admit(busy)
        assert list(limiter._leases) == [(busy.project, busy.id)]

    with_store(database[1], work)
