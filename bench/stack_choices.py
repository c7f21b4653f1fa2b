"""Side-by-side micro-benchmarks behind threadkit's stack choices (run on demand).

1. A thread primary-key lookup through blocking ``sqlite3`` vs ``aiosqlite``.
2. One GET of a thread through a plain Starlette route (orjson) vs a FastAPI route
   with a pydantic response model, both called in-process as ASGI apps (no network,
   so only the framework's own cost is compared), both on the same SQLite file.

Each pair runs interleaved in rounds in one process, so machine noise hits both
sides alike; the ratio is what to read. Usage::

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/stack_choices.py [--threads 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosqlite
import orjson
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def make_db(path: Path, count: int) -> list[str]:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        "CREATE TABLE threads (seq INTEGER PRIMARY KEY, project TEXT, id TEXT, user_id TEXT,"
        " created_us INTEGER, title TEXT, status TEXT)"
    )
    conn.execute("CREATE UNIQUE INDEX threads_by_id ON threads (project, id)")
    ids = [f"cthr_{i:048x}" for i in range(count)]
    conn.executemany(
        "INSERT INTO threads (project, id, user_id, created_us, title, status)"
        " VALUES ('p', ?, 'user', 1712345600000000, 'Title', '{\"type\":\"active\"}')",
        [(i,) for i in ids],
    )
    conn.commit()
    conn.close()
    return ids


QUERY = "SELECT id, user_id, created_us, title, status FROM threads WHERE project = 'p' AND id = ?"


async def lookups(path: Path, ids: list[str], n: int) -> tuple[float, float]:
    """Microseconds per lookup: (sqlite3, aiosqlite)."""
    sample = random.sample(ids, n)
    blocking = sqlite3.connect(path)
    start = time.perf_counter()
    for thread_id in sample:
        blocking.execute(QUERY, (thread_id,)).fetchone()
    sync_us = (time.perf_counter() - start) / n * 1e6
    blocking.close()
    async with aiosqlite.connect(path) as conn:
        start = time.perf_counter()
        for thread_id in sample:
            async with conn.execute(QUERY, (thread_id,)) as cur:
                await cur.fetchone()
        async_us = (time.perf_counter() - start) / n * 1e6
    return sync_us, async_us


class Status(BaseModel):
    type: str


class ThreadOut(BaseModel):
    id: str
    object: str = "chatkit.thread"
    created_at: int
    title: str | None
    status: Status
    user: str


def apps(path: Path) -> tuple[Any, Any]:
    conn = sqlite3.connect(path, check_same_thread=False)

    def row(thread_id: str) -> dict[str, Any]:
        r = conn.execute(QUERY, (thread_id,)).fetchone()
        return {
            "id": r[0],
            "object": "chatkit.thread",
            "created_at": r[2] // 1_000_000,
            "title": r[3],
            "status": orjson.loads(r[4]),
            "user": r[1],
        }

    async def plain(request: Request) -> Response:
        body = orjson.dumps(row(request.path_params["thread_id"]))
        return Response(body, media_type="application/json")

    starlette_app = Starlette(routes=[Route("/v1/chatkit/threads/{thread_id}", plain)])
    fastapi_app = FastAPI()

    @fastapi_app.get("/v1/chatkit/threads/{thread_id}", response_model=ThreadOut)
    async def typed(thread_id: str) -> ThreadOut:
        return ThreadOut(**row(thread_id))

    return starlette_app, fastapi_app


async def serve_requests(app: Any, ids: list[str], n: int) -> float:
    """Requests per second of ``app`` called directly as ASGI."""
    sample = random.sample(ids, n)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    start = time.perf_counter()
    for thread_id in sample:
        path = f"/v1/chatkit/threads/{thread_id}"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        await app(scope, receive, send)
    elapsed = time.perf_counter() - start
    assert statuses == [200] * n, set(statuses)
    return n / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        ids = make_db(path, args.threads)
        starlette_app, fastapi_app = apps(path)
        sync_us, async_us, plain_rps, typed_rps = [], [], [], []
        for _ in range(args.rounds):
            s, a = await lookups(path, ids, args.requests)
            sync_us.append(s)
            async_us.append(a)
            plain_rps.append(await serve_requests(starlette_app, ids, args.requests))
            typed_rps.append(await serve_requests(fastapi_app, ids, args.requests))
    med = statistics.median
    print(
        f"threads in table: {args.threads}, rounds: {args.rounds}, ops per round: {args.requests}"
    )
    print(f"sqlite3 lookup        {med(sync_us):8.1f} µs")
    print(
        f"aiosqlite lookup      {med(async_us):8.1f} µs   "
        f"({med(async_us) / med(sync_us):.1f}x slower)"
    )
    print(f"Starlette + orjson    {med(plain_rps):8.0f} req/s (in-process ASGI)")
    print(
        f"FastAPI + pydantic    {med(typed_rps):8.0f} req/s "
        f"({med(typed_rps) / med(plain_rps):.2f} of Starlette)"
    )


if __name__ == "__main__":
    asyncio.run(main())
