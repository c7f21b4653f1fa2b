"""The cost of a session's rate-limit check against how full its window is.

For each window load (requests admitted in the last 59 s, spread evenly), a new
session's window is filled through ``take_request_slot`` and then timed: one check at a
time (µs per check), and 64 concurrent checks spread over 10 sessions as under wrk
(checks per second). Run it on an empty database of the code under test (its schema is
created on first use)::

    PYTHONPATH=$PWD .venv/bin/python bench/rate_limit.py --db sqlite:///tmp/rl.db
    PYTHONPATH=$PWD .venv/bin/python bench/rate_limit.py --db postgresql://.../threadkit_rl
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

from threadkit.stores import open_store

WINDOW_MS = 60_000
NO_LIMIT = 2**31 - 1


async def fill(store: object, project: str, session: str, requests: int, now: int) -> None:
    take = store.take_request_slot  # type: ignore[attr-defined]
    step = 59_000 / max(1, requests)
    batch = []
    for i in range(requests):
        batch.append(take(project, session, int(now - 59_000 + i * step), NO_LIMIT, WINDOW_MS))
        if len(batch) == 64:
            await asyncio.gather(*batch)
            batch = []
    await asyncio.gather(*batch)


async def worker(
    take: Any, project: str, sessions: list[str], now: int, k: int, checks: int
) -> None:
    """``checks`` checks one after the other, going round the sessions."""
    for i in range(checks):
        await take(project, sessions[(k + i) % len(sessions)], now, NO_LIMIT, WINDOW_MS)


async def run(args: argparse.Namespace) -> None:
    store = open_store(args.db)
    await store.open()
    try:
        print(f"{args.db.partition('://')[0]}: checks with the window holding N requests")
        print("| N in the window | µs per check, one at a time | checks/s, 64 at once |")
        print("| ---: | ---: | ---: |")
        for load in args.loads:
            project = f"proj_{uuid.uuid4().hex[:8]}"
            now = int(time.time() * 1000)
            sessions = [f"cksess_{uuid.uuid4().hex[:12]}" for _ in range(10)]
            for session in sessions:
                await fill(store, project, session, load, now)
            now = int(time.time() * 1000)
            take = store.take_request_slot
            started = time.perf_counter()
            for _ in range(args.checks):
                await take(project, sessions[0], now, NO_LIMIT, WINDOW_MS)
            one = (time.perf_counter() - started) / args.checks * 1e6

            started = time.perf_counter()
            await asyncio.gather(
                *(worker(take, project, sessions, now, k, args.checks // 64) for k in range(64))
            )
            rate = (args.checks // 64) * 64 / (time.perf_counter() - started)
            print(f"| {load:,} | {one:,.1f} | {rate:,.0f} |")
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="an empty database (URL)")
    parser.add_argument("--loads", type=int, nargs="+", default=[100, 1_000, 12_000])
    parser.add_argument("--checks", type=int, default=2_000)
    asyncio.run(run(parser.parse_args()))
