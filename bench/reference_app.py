"""The yardstick: the smallest honest server for ``GET /v1/chatkit/threads/{id}``.

Bare Starlette, one primary-key lookup (blocking ``sqlite3`` on the same file
threadkit serves, or ``asyncpg`` on the same PostgreSQL database), ``orjson``, no
authentication, no validation, no middleware. threadkit's retrieve is measured as
a ratio to this app, run side by side with it. Usage::

    .venv/bin/python bench/reference_app.py --db sqlite:///bench-data/full.db \\
        --port 8100 [--workers 2] [--server uvicorn|granian]

uvicorn runs with uvloop and httptools (what ``uvicorn[standard]`` picks anyway),
access log off.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

QUERY_SQLITE = (
    "SELECT id, user_id, created_us, title, status FROM threads WHERE project = ? AND id = ?"
)
QUERY_POSTGRES = (
    "SELECT id, user_id, created_us, title, status FROM threads WHERE project = $1 AND id = $2"
)
NOT_FOUND = b'{"error":"not found"}'


def _body(r: Any) -> bytes:
    return orjson.dumps(
        {
            "id": r[0],
            "object": "chatkit.thread",
            "created_at": r[2] // 1_000_000,
            "title": r[3],
            "status": orjson.loads(r[4]),
            "user": r[1],
        }
    )


def sqlite_app(path: str, project: str) -> Starlette:
    conn = sqlite3.connect(path, check_same_thread=False)

    async def retrieve(request: Request) -> Response:
        r = conn.execute(QUERY_SQLITE, (project, request.path_params["thread_id"])).fetchone()
        if r is None:
            return Response(NOT_FOUND, 404, media_type="application/json")
        return Response(_body(r), media_type="application/json")

    return Starlette(routes=[Route("/v1/chatkit/threads/{thread_id}", retrieve)])


def postgres_app(url: str, project: str, pool_size: int) -> Starlette:
    import asyncpg

    pool: Any = None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(url, min_size=pool_size, max_size=pool_size)
        try:
            yield
        finally:
            await pool.close()

    async def retrieve(request: Request) -> Response:
        r = await pool.fetchrow(QUERY_POSTGRES, project, request.path_params["thread_id"])
        if r is None:
            return Response(NOT_FOUND, 404, media_type="application/json")
        return Response(_body(r), media_type="application/json")

    return Starlette(routes=[Route("/v1/chatkit/threads/{thread_id}", retrieve)], lifespan=lifespan)


def create_app() -> Starlette:
    """The app for the URL in ``BENCH_REFERENCE_DB`` (set by ``main``)."""
    url = os.environ["BENCH_REFERENCE_DB"]
    project = os.environ.get("BENCH_REFERENCE_PROJECT", "bench")
    if url.startswith("sqlite:///"):
        return sqlite_app(url.removeprefix("sqlite:///"), project)
    return postgres_app(url, project, int(os.environ.get("BENCH_REFERENCE_POOL", "10")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--project", default="bench")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pool", type=int, default=10, help="PostgreSQL pool size per worker")
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    args = parser.parse_args()
    os.environ["BENCH_REFERENCE_DB"] = args.db
    os.environ["BENCH_REFERENCE_PROJECT"] = args.project
    os.environ["BENCH_REFERENCE_POOL"] = str(args.pool)
    serve("reference_app:create_app", args)


def serve(target: str, args: argparse.Namespace) -> None:
    """Serve the app factory ``target`` (``module:function`` of this folder) with the
    ``--server``, ``--host``, ``--port`` and ``--workers`` of ``args``."""
    here = str(Path(__file__).resolve().parent)
    if args.server == "granian":
        from granian import Granian
        from granian.constants import Interfaces, Loops

        sys.path.insert(0, here)
        Granian(
            target,
            address=args.host,
            port=args.port,
            interface=Interfaces.ASGI,
            workers=args.workers,
            loop=Loops.uvloop,
            factory=True,
            log_access=False,
        ).serve()
        return
    import uvicorn

    uvicorn.run(
        target,
        factory=True,
        app_dir=here,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
