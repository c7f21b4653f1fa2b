"""The per-session request limit: a sliding 60-second window, kept in the store, with
slots leased a few at a time by each process.

Kept in the store rather than in memory so that every worker process (and every
machine over one PostgreSQL) shares one count per session. The store counts slots per
100 ms bucket (``threadkit.stores.request_window``), so a check costs the same under
any load and a request leaves the window up to 100 ms after its minute, never before.
Refused requests are not counted, so a client that keeps retrying too early is not
locked out for longer.

A store check per request cost a protocol read most of its time (a round trip and the
check itself on PostgreSQL, a write transaction on SQLite: docs/performance.md), so a
process takes a session's slots a few at a time (a lease) and admits the requests of
the same bucket from it without asking the store; see ``RateLimiter``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from threadkit.stores import ThreadStore
from threadkit.stores.records import SessionRow
from threadkit.stores.request_window import BUCKET_MS

from .errors import RateLimited

log = logging.getLogger("threadkit.ratelimit")

WINDOW_MS = 60_000
#: the most slots a process asks for at once for one session
MAX_LEASE = 64
#: how often the slots of sessions that went quiet are given back (seconds)
SWEEP_SECONDS = 0.25
#: sessions kept in memory past which quiet ones are forgotten at once (the sweep
#: forgets them anyway; this bounds a limiter whose sweep does not run)
MAX_SESSIONS = 100_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True, eq=False)
class _Lease:
    """What this process holds of one session's window."""

    #: the session's limit, for the give-backs of the sweep
    limit: int
    #: the bucket in which the store granted the slots below; they are used in no other
    bucket: int = -1
    #: slots of ``bucket`` not used yet (never below 0: taken one at a time, no await
    #: between the check and the decrement)
    left: int = 0
    #: requests this process admitted in ``bucket``
    served: int = 0
    #: requests it admitted in the bucket before ``bucket`` (0 if none or not the one
    #: just before): the size of the next lease
    previous: int = 0
    #: the store check in flight for this session; resolves to its failure, if any
    asking: asyncio.Future[BaseException | None] | None = None
    #: requests waiting for that check
    waiting: int = 0
    #: when the last check refused in ``bucket``: the time until which this process
    #: refuses the session's requests of that bucket without asking again
    refused_until: int = 0


class RateLimiter:
    """Admits a session's requests under its limit, shared through the store.

    What it guarantees, across every process and machine sharing the store:

    - In any window (every bucket with a millisecond in ``(now - 60 s, now]``), never
      more requests of a session are admitted than its limit: every admitted request
      used a slot the store counted in the bucket it was admitted in, and only slots
      no request used are ever given back.
    - Refused requests are not counted.
    - A process may take several slots at once (a lease): a request in the bucket of
      its process's lease uses one of them without a store call. Slots of a lease are
      used only in the bucket they were granted in, so each admitted request is counted
      in the bucket it was admitted in and leaves the window a minute after it. The
      slots left unused are given back with the process's next check of the session
      (in a later bucket) or by ``sweep`` (every ``SWEEP_SECONDS`` while the app runs),
      and when the app stops. Until then they count: held slots count for at most one
      bucket plus the sweep interval, so near its limit a session may be refused that
      briefly early (by a process that does not hold them), never admitted late. A
      check that fails or is cancelled (the store unavailable, the client gone) may
      leave the slots it gave back or took counted until they leave the window: early
      again, never late (a give-back is never retried, so never made twice).
    - A lease is more than one slot only while the window has room for 16 or more
      (``request_window.grant_for``), and at most ``MAX_LEASE``; its size is what the
      process admitted for the session in the bucket before (or so far in this one, or
      the requests waiting for it), so a quiet session asks for one slot at a time and
      a small limit (below 16) is handed out exactly one slot per request.
    - A refusal stands, in the process that got it, for the rest of its bucket (and
      never past the wait it gave): the session's other requests of that bucket are
      refused without asking the store again.
    - In one process at most one store check per session is in flight; the requests
      arriving meanwhile wait for it and then take from its lease.
    """

    def __init__(
        self,
        store: ThreadStore,
        window_ms: int = WINDOW_MS,
        *,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.window_ms = window_ms
        self.clock = clock
        self._leases: dict[tuple[str, str], _Lease] = {}
        #: store checks made (taking slots or only giving them back), for the curious
        self.store_checks = 0

    async def admit(self, session: SessionRow) -> None:
        """Count one request of ``session``, or raise ``RateLimited`` with ``retry_after``."""
        lease = self._leases.get((session.project, session.id))
        if lease is not None and lease.left and self.clock() // BUCKET_MS == lease.bucket:
            lease.left -= 1
            lease.served += 1
            return
        await self._admit(session, lease)

    async def _admit(self, session: SessionRow, lease: _Lease | None) -> None:
        if lease is None:
            if len(self._leases) >= MAX_SESSIONS:
                self._forget_quiet(self.clock() // BUCKET_MS)
            lease = self._leases[(session.project, session.id)] = _Lease(session.rate_limit)
        while True:
            now = self.clock()
            bucket = now // BUCKET_MS
            if lease.bucket == bucket:
                if lease.left:
                    lease.left -= 1
                    lease.served += 1
                    return
                if now < lease.refused_until:
                    raise self._refusal(session, lease.refused_until - now)
            if lease.asking is None:
                return await self._ask(session, lease, now, bucket)
            lease.waiting += 1
            try:
                failure = await asyncio.shield(lease.asking)
            finally:
                lease.waiting -= 1
            if failure is not None:
                raise failure

    async def _ask(self, session: SessionRow, lease: _Lease, now: int, bucket: int) -> None:
        """Take a lease from the store for this request and those to come in ``bucket``."""
        give_back = None
        if lease.bucket != bucket:
            if lease.left:
                give_back = (lease.bucket, lease.left)
            lease.previous = lease.served if lease.bucket == bucket - 1 else 0
            lease.bucket, lease.left, lease.served, lease.refused_until = bucket, 0, 0, 0
        want = min(MAX_LEASE, max(lease.previous, lease.served, lease.waiting + 1))
        lease.limit = session.rate_limit
        asking = lease.asking = asyncio.get_running_loop().create_future()
        self.store_checks += 1
        try:
            grant = await self.store.take_request_slots(
                session.project,
                session.id,
                now,
                session.rate_limit,
                self.window_ms,
                want,
                give_back,
            )
        except BaseException as exc:
            lease.asking = None
            asking.set_result(exc if isinstance(exc, Exception) else None)
            raise
        lease.asking = None
        asking.set_result(None)
        if grant.granted:
            # ``bucket`` is still the lease's: nothing else changes it while a check is
            # in flight (the sweep leaves such a lease alone)
            lease.left += grant.granted - 1
            lease.served += 1
            return
        lease.refused_until = now + grant.wait_ms
        raise self._refusal(session, grant.wait_ms)

    @staticmethod
    def _refusal(session: SessionRow, wait_ms: int) -> RateLimited:
        return RateLimited(
            f"Rate limit reached for session '{session.id}': "
            f"{session.rate_limit} requests per minute. "
            f"Please try again in {wait_ms / 1000:.1f}s.",
            retry_after=max(1, math.ceil(wait_ms / 1000)),
            code="rate_limit_exceeded",
        )

    async def sweep(self, *, everything: bool = False) -> int:
        """Give back the unused slots of leases of an earlier bucket (with
        ``everything``, of every bucket: when the app stops), and forget the sessions
        quiet since before the previous bucket. Returns the slots given back."""
        now = self.clock()
        bucket = now // BUCKET_MS
        given = 0
        for key, lease in list(self._leases.items()):
            if lease.asking is not None or lease.waiting:
                continue
            if lease.left and (everything or lease.bucket < bucket):
                give_back, lease.left = (lease.bucket, lease.left), 0
                self.store_checks += 1
                try:
                    await self.store.take_request_slots(
                        key[0], key[1], now, lease.limit, self.window_ms, 0, give_back
                    )
                except Exception:
                    log.warning("giving back rate-limit slots failed", exc_info=True)
                    continue
                given += give_back[1]
            elif lease.bucket < bucket - 1 and not lease.left and self._leases.get(key) is lease:
                del self._leases[key]
        return given

    def _forget_quiet(self, bucket: int) -> None:
        """Forget the sessions that hold nothing and were quiet since before the
        previous bucket."""
        for key, lease in list(self._leases.items()):
            if not (lease.left or lease.asking or lease.waiting) and lease.bucket < bucket - 1:
                del self._leases[key]

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            await self.sweep()

    def start(self) -> asyncio.Task[None]:
        """The sweep, every ``SWEEP_SECONDS``, as a task of the running loop."""
        return asyncio.get_running_loop().create_task(self.run_forever())

    async def stop(self, task: asyncio.Task[None]) -> None:
        """Stop the sweep started by ``start`` and give back every unused slot."""
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self.sweep(everything=True)
