"""threadkit's retrieve vs the reference app's, both called in-process as ASGI apps.

No network and no HTTP server: only application code is compared (authentication,
routing, middleware, the store call, the response). Both apps read the same SQLite
file from ``bench/generate.py``; they run interleaved in rounds, and the fastest round
of each is compared (the least disturbed by the machine). ``--profile`` adds a
cProfile of threadkit's retrieves. ``--protocol`` compares threadkit's protocol reads
(``threads.get_by_id``, ``items.list``, ``threads.list`` over ``POST /chatkit``, with a
project key and with a session secret) with its own REST retrieve instead, and
``--profile`` then profiles the scenario it names. ``--turns`` times echo turns
(``threads.add_user_message``, the stream read to its end) on a fresh database
instead, one at a time and 64 at once, and ``--profile`` profiles 64 at once. Usage::

    .venv/bin/python bench/inprocess.py --data bench-data/full [--rounds 15] [--profile]
    .venv/bin/python bench/inprocess.py --data bench-data/small --protocol [--profile items_key]
    .venv/bin/python bench/inprocess.py --turns [--db postgresql://...] [--profile]

``--floor`` (with ``--protocol``, on SQLite) also times each read's SQL statement alone
and prints the best ratio that leaves. ``--cpu`` times with the process's CPU time
instead of the wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
#: what a request's time is read from: the wall clock, or with ``--cpu`` the process's
#: CPU time (steadier when other work shares the machine: time spent waiting for a
#: core is not counted; the SQLite reads run on the calling thread, so all is counted)
CLOCK = time.perf_counter


def scope(thread_id: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/v1/chatkit/threads/{thread_id}",
        "raw_path": b"",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def post_scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {**scope("", headers), "method": "POST", "path": "/chatkit"}


async def protocol(args: argparse.Namespace) -> None:
    """Protocol reads vs the REST retrieve of the same threads, in one process."""
    meta = orjson.loads((args.data / "meta.json").read_bytes())
    samples = orjson.loads((args.data / "samples.json").read_bytes())
    os.environ["THREADKIT_DATABASE_URL"] = meta["database_url"]
    from threadkit.app import create_app
    from threadkit.services.sessions import SessionService

    app = create_app()
    threads = samples["threads"][: args.ids]
    statuses: set[int] = set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    base = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json")]
    key = (b"authorization", b"Bearer " + meta["key"].encode())

    async with app.router.lifespan_context(app):
        service = SessionService(app.state.store, ["echo"])
        secrets: dict[str, bytes] = {}
        for _, user in threads:
            if user not in secrets:
                made = await service.create(
                    meta["project"],
                    {
                        "user": user,
                        "workflow": {"id": "echo"},
                        "rate_limits": {"max_requests_per_1_minute": 2**31 - 1},
                    },
                )
                secrets[user] = b"Bearer " + made["client_secret"].encode()

        def requests(kind: str, auth: str) -> list[tuple[dict[str, Any], bytes]]:
            out = []
            for thread_id, user in threads:
                if kind == "retrieve":
                    headers = [*base, key, (b"openai-beta", b"chatkit_beta=v1")]
                    out.append((scope(thread_id, headers), b""))
                    continue
                if auth == "key":
                    headers = [*base, key, (b"x-chatkit-user", user.encode())]
                else:
                    headers = [*base, (b"authorization", secrets[user])]
                params: dict[str, Any] = {"thread_id": thread_id}
                if kind == "threads.list":
                    params = {"limit": 20}
                elif kind == "items.list":
                    params["limit"] = 20
                body = orjson.dumps({"type": kind, "params": params})
                out.append((post_scope(headers), body))
            return out

        scenarios = {
            "retrieve": requests("retrieve", "key"),
            "get_key": requests("threads.get_by_id", "key"),
            "items_key": requests("items.list", "key"),
            "list_key": requests("threads.list", "key"),
            "get_secret": requests("threads.get_by_id", "secret"),
            "items_secret": requests("items.list", "secret"),
            "list_secret": requests("threads.list", "secret"),
        }

        async def per_request_us(name: str, n: int) -> float:
            pool = scenarios[name]
            started = CLOCK()
            for i in range(n):
                request_scope, body = pool[i % len(pool)]

                async def receive_body(body: bytes = body) -> dict[str, Any]:
                    return {"type": "http.request", "body": body, "more_body": False}

                await app(request_scope, receive_body, send)
            return (CLOCK() - started) / n * 1e6

        for name in scenarios:
            await per_request_us(name, 500)
        if statuses != {200}:
            raise SystemExit(f"unexpected statuses {sorted(statuses)}: wrong data set or key?")
        best: dict[str, float] = {name: float("inf") for name in scenarios}
        for _ in range(args.rounds):
            for name in scenarios:
                best[name] = min(best[name], await per_request_us(name, args.requests))
        print(f"fastest of {args.rounds} rounds of {args.requests:,} requests (µs per request):")
        for name, us in best.items():
            print(f"  {name:13} {us:7.1f}  REST retrieve / this {best['retrieve'] / us:.2f}")
        if args.floor:
            floor(meta, threads, args, best["retrieve"])
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            await per_request_us(args.profile, 20_000)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)


def floor(
    meta: dict[str, Any], threads: list[Any], args: argparse.Namespace, retrieve_us: float
) -> None:
    """What the SQL of each read costs alone, timed in rounds on a connection of the
    same file, and the ratio a protocol read could reach at best: the retrieve's
    request with its statement swapped for the read's, as if everything but the
    database cost the protocol path no more than the REST one and its answer cost
    nothing to make."""
    import sqlite3

    from threadkit.stores.rows import THREAD_COLUMNS
    from threadkit.stores.sqlite import store as sqlite_store

    url = meta["database_url"]
    if not url.startswith("sqlite:"):
        raise SystemExit("--floor times SQLite statements: give a SQLite data set")
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    project = meta["project"]
    page = sqlite_store._thread_and_first_page("asc")
    bare = page.replace(
        sqlite_store._JOINED_ITEMS, "count(*), sum(length(payload)), sum(length(id))", 1
    )
    users = (
        f"SELECT {sqlite_store._JOINED_THREADS} FROM (SELECT {THREAD_COLUMNS} FROM threads"
        " WHERE project = ? AND user_id = ? ORDER BY created_us DESC, seq DESC LIMIT ?)"
    )
    statements: dict[str, tuple[str, Any]] = {
        "retrieve": (sqlite_store._GET_THREAD, lambda t, u: (project, t)),
        "get/items": (page, lambda t, u: (project, t, 21, project, t)),
        "rows only": (bare, lambda t, u: (project, t, 21, project, t)),
        "list": (users, lambda t, u: (project, u, 21)),
    }
    best = {name: float("inf") for name in statements}
    for _ in range(args.rounds):
        for name, (sql, params) in statements.items():
            started = CLOCK()
            for thread_id, user in threads:
                conn.execute(sql, params(thread_id, user)).fetchall()
            best[name] = min(best[name], (CLOCK() - started) / len(threads) * 1e6)
    print("the SQL alone, fastest round (µs per statement), and the best ratio it leaves:")
    for name, us in best.items():
        bound = retrieve_us / (retrieve_us - best["retrieve"] + us)
        print(f"  {name:13} {us:7.1f}  at best {bound:.2f} of the REST retrieve")


async def turns(args: argparse.Namespace) -> None:
    """Echo turns in one process: per turn one at a time, and 64 conversations at once."""
    sys.path.insert(0, str(HERE))
    import turns as bench_turns  # type: ignore[import-not-found]

    url = args.db
    if url is None:
        folder = HERE.parent / "bench-data" / "turns"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("inprocess.db*"):
            old.unlink()
        url = f"sqlite:///{folder / 'inprocess.db'}"
    elif url.startswith("postgresql://"):
        url = await bench_turns.fresh_postgres(url, "threadkit_turns_inprocess")
    key = await bench_turns.prepare(url, with_key=True)
    os.environ["THREADKIT_DATABASE_URL"] = url
    from threadkit.app import create_app

    app = create_app()
    conversations = bench_turns.thread_ids(bench_turns.CONVERSATIONS)
    statuses: set[int] = set()
    events = [0]

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])
        elif message["type"] == "http.response.body":
            events[0] += message["body"].count(b"data:")

    async def one_turn(thread_id: str, user: str) -> None:
        body = bench_turns.turn_body(thread_id)
        headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer " + str(key).encode()),
            (b"x-chatkit-user", user.encode()),
        ]
        sent = asyncio.Event()
        first = [True]

        async def receive_body() -> dict[str, Any]:
            if first[0]:
                first[0] = False
                return {"type": "http.request", "body": body, "more_body": False}
            await sent.wait()  # never: the client stays for the whole stream
            return {"type": "http.disconnect"}

        await app(post_scope(headers), receive_body, send)

    async def one_at_a_time(n: int) -> float:
        started = CLOCK()
        for i in range(n):
            await one_turn(*conversations[i % len(conversations)])
        return (CLOCK() - started) / n * 1e6

    async def all_at_once(rounds: int) -> float:
        async def conversation(thread_id: str, user: str) -> None:
            for _ in range(rounds):
                await one_turn(thread_id, user)

        started = time.perf_counter()
        await asyncio.gather(*(conversation(t, u) for t, u in conversations))
        return len(conversations) * rounds / (time.perf_counter() - started)

    async with app.router.lifespan_context(app):
        await one_at_a_time(100)
        if statuses != {200} or events[0] != 700:
            raise SystemExit(f"unexpected statuses {sorted(statuses)} or events {events[0]}")
        sequential = min([await one_at_a_time(args.requests // 10) for _ in range(args.rounds)])
        concurrent = max([await all_at_once(5) for _ in range(args.rounds)])
        print(
            f"echo turns in-process ({url.partition(':')[0]}): one at a time {sequential:,.0f} µs"
            f" per turn (fastest of {args.rounds}); 64 conversations at once {concurrent:,.0f}"
            " turns/s (best round)"
        )
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            await all_at_once(20)
            profile.disable()
            stats = pstats.Stats(profile)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)


async def main(args: argparse.Namespace) -> None:
    meta = orjson.loads((args.data / "meta.json").read_bytes())
    samples = orjson.loads((args.data / "samples.json").read_bytes())
    path = meta["database_url"].removeprefix("sqlite:///")
    os.environ["THREADKIT_DATABASE_URL"] = meta["database_url"]
    sys.path.insert(0, str(HERE))
    import reference_app  # type: ignore[import-not-found]

    from threadkit.app import create_app

    threadkit = create_app()
    reference = reference_app.sqlite_app(path, meta["project"])
    ids = [t[0] for t in samples["threads"][: args.ids]]
    plain = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk")]
    signed = [
        *plain,
        (b"authorization", b"Bearer " + meta["key"].encode()),
        (b"openai-beta", b"chatkit_beta=v1"),
    ]
    statuses: set[int] = set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    async def per_request_us(app: Any, headers: list[tuple[bytes, bytes]], n: int) -> float:
        started = CLOCK()
        for i in range(n):
            await app(scope(ids[i % len(ids)], headers), receive, send)
        return (CLOCK() - started) / n * 1e6

    async with threadkit.router.lifespan_context(threadkit):
        await per_request_us(threadkit, signed, 2_000)
        await per_request_us(reference, plain, 2_000)
        if statuses != {200}:
            raise SystemExit(f"unexpected statuses {sorted(statuses)}: wrong data set or key?")
        tk, ref = [], []
        for _ in range(args.rounds):
            tk.append(await per_request_us(threadkit, signed, args.requests))
            ref.append(await per_request_us(reference, plain, args.requests))
        print(
            f"fastest of {args.rounds} rounds of {args.requests:,} retrieves:"
            f" threadkit {min(tk):.1f} µs, reference app {min(ref):.1f} µs,"
            f" ratio {min(tk) / min(ref):.3f}"
        )
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            await per_request_us(threadkit, signed, 20_000)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="output folder of generate.py")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=4_000, help="retrieves per round")
    parser.add_argument("--ids", type=int, default=2_000, help="sampled thread ids cycled over")
    parser.add_argument(
        "--profile", nargs="?", const="retrieve", default=None, help="scenario to profile"
    )
    parser.add_argument("--cpu", action="store_true", help="CPU time instead of wall time")
    parser.add_argument("--protocol", action="store_true", help="protocol reads vs retrieve")
    parser.add_argument(
        "--floor", action="store_true", help="with --protocol: the SQL alone, and its bound"
    )
    parser.add_argument("--turns", action="store_true", help="echo turns on a fresh database")
    parser.add_argument("--db", help="with --turns: a PostgreSQL database to make it from")
    arguments = parser.parse_args()
    if arguments.cpu:
        CLOCK = time.process_time
    # Thousands of access lines a second would flood the terminal; what they cost is
    # measured on its own (``bench/run.py load --variant THREADKIT_ACCESS_LOG=1``).
    os.environ.setdefault("THREADKIT_ACCESS_LOG", "0")
    if arguments.turns:
        asyncio.run(turns(arguments))
    elif arguments.data is None:
        parser.error("--data is required")
    else:
        asyncio.run(protocol(arguments) if arguments.protocol else main(arguments))
