"""The yardstick for a chat turn: the smallest honest server for an echo turn.

``POST /chatkit`` with ``threads.add_user_message`` (the user named by
``X-ChatKit-User``, as threadkit's key path does): one durable transaction stores the
user item and the assistant item and touches the thread (blocking ``sqlite3`` in WAL
with ``synchronous=FULL`` on the event loop, as threadkit's database runs, or
``asyncpg`` on PostgreSQL); then the events threadkit's ``echo`` workflow streams, in
the same order and the same JSON shapes, each its own SSE frame. Bare Starlette,
``orjson``, no authentication and no validation beyond what the turn needs. It writes
threadkit's tables (same schema, made by ``threadkit migrate``) with threadkit's rows,
so threadkit can read what it stored. Usage::

    .venv/bin/python bench/reference_turn_app.py --db sqlite:///bench-data/turns-ref.db \\
        --port 8101 [--server granian|uvicorn]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_app import serve  # type: ignore[import-not-found]

TOUCH_SQLITE = (
    "UPDATE threads SET title = coalesce(title, ?) WHERE project = ? AND id = ? AND user_id = ?"
)
INSERT_SQLITE = (
    "INSERT INTO items (project, thread_id, id, created_us, shape, rest_type, payload)"
    " VALUES (?, ?, ?, ?, 'protocol', ?, ?)"
)
TOUCH_POSTGRES = (
    "UPDATE threads SET title = coalesce(title, $1) WHERE project = $2 AND id = $3 AND user_id = $4"
)
INSERT_POSTGRES = (
    "INSERT INTO items (project, thread_id, id, created_us, shape, rest_type, payload)"
    " VALUES ($1, $2, $3, $4, 'protocol', $5, $6::json)"
)
NOT_FOUND = b'{"error":{"message":"thread not found","type":"invalid_request_error"}}'
BAD_REQUEST = (
    b'{"error":{"message":"expected threads.add_user_message","type":"invalid_request_error"}}'
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Turn:
    """One echo turn: the two items (rows and events) built from the request body."""

    def __init__(self, body: bytes) -> None:
        data = orjson.loads(body)
        if data.get("type") != "threads.add_user_message":
            raise ValueError(data.get("type"))
        params = data["params"]
        self.thread_id: str = params["thread_id"]
        content = params["input"]["content"]
        self.text = "".join(part["text"] for part in content)
        self.user_us, user_at = _now()
        self.user_item = {
            "id": _item_id(),
            "thread_id": self.thread_id,
            "created_at": user_at,
            "type": "user_message",
            "content": content,
            "attachments": [],
            "inference_options": {},
        }
        self.answer_us, answer_at = _now()
        self.answer_id = _item_id()
        part = {"annotations": [], "text": self.text, "type": "output_text"}
        self.answer = {
            "id": self.answer_id,
            "thread_id": self.thread_id,
            "created_at": answer_at,
            "type": "assistant_message",
            "content": [part],
        }
        self.user_json = orjson.dumps(self.user_item)
        self.answer_json = orjson.dumps(self.answer)

    def rows(self) -> list[tuple[str, int, str, str]]:
        """(id, created_us, rest_type, payload) of the two items."""
        user_id, user_json = self.user_item["id"], self.user_json.decode()
        answer_json = self.answer_json.decode()
        return [
            (user_id, self.user_us, "chatkit.user_message", user_json),
            (self.answer_id, self.answer_us, "chatkit.assistant_message", answer_json),
        ]

    def events(self) -> list[bytes]:
        """The SSE frames of threadkit's echo turn, in its order."""
        empty = {"annotations": [], "text": "", "type": "output_text"}
        done = {"annotations": [], "text": self.text, "type": "output_text"}
        part = "assistant_message.content_part"
        added = {**self.answer, "content": []}

        def updated(update: dict[str, Any]) -> dict[str, Any]:
            return {"type": "thread.item.updated", "item_id": self.answer_id, "update": update}

        events: list[dict[str, Any] | bytes] = [
            b'{"type":"thread.item.done","item":' + self.user_json + b"}",
            {"type": "stream_options", "stream_options": {"allow_cancel": True}},
            {"type": "thread.item.added", "item": added},
            updated({"type": f"{part}.added", "content_index": 0, "content": empty}),
            updated({"type": f"{part}.text_delta", "content_index": 0, "delta": self.text}),
            updated({"type": f"{part}.done", "content_index": 0, "content": done}),
            b'{"type":"thread.item.done","item":' + self.answer_json + b"}",
        ]
        return [
            b"data: " + (e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n\n" for e in events
        ]


def _now() -> tuple[int, str]:
    """Microseconds since the epoch and the naive local ISO time, as threadkit stores them."""
    now = datetime.now()
    delta = now.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds, now.isoformat()


def _item_id() -> str:
    return "cthi_" + secrets.token_hex(24)


def _stream(frames: list[bytes]) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for frame in frames:
            yield frame

    return StreamingResponse(
        chunks(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


def _error(body: bytes, status: int) -> Response:
    return Response(body, status, media_type="application/json")


def sqlite_app(path: str, project: str) -> Starlette:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 10000")

    def store(turn: Turn, user: str) -> bool:
        conn.execute("BEGIN IMMEDIATE")
        try:
            touched = conn.execute(
                TOUCH_SQLITE, (turn.text[:60], project, turn.thread_id, user)
            ).rowcount
            if not touched:
                conn.execute("ROLLBACK")
                return False
            conn.executemany(
                INSERT_SQLITE, [(project, turn.thread_id, *row) for row in turn.rows()]
            )
            conn.execute("COMMIT")
            return True
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def chatkit(request: Request) -> Response:
        try:
            turn = Turn(await request.body())
        except (ValueError, KeyError, TypeError):
            return _error(BAD_REQUEST, 400)
        if not store(turn, request.headers.get("x-chatkit-user", "")):
            return _error(NOT_FOUND, 404)
        return _stream(turn.events())

    return Starlette(routes=[Route("/chatkit", chatkit, methods=["POST"])])


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

    async def store(turn: Turn, user: str) -> bool:
        async with pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                TOUCH_POSTGRES, turn.text[:60], project, turn.thread_id, user
            )
            if status == "UPDATE 0":
                return False
            await conn.executemany(
                INSERT_POSTGRES, [(project, turn.thread_id, *row) for row in turn.rows()]
            )
            return True

    async def chatkit(request: Request) -> Response:
        try:
            turn = Turn(await request.body())
        except (ValueError, KeyError, TypeError):
            return _error(BAD_REQUEST, 400)
        if not await store(turn, request.headers.get("x-chatkit-user", "")):
            return _error(NOT_FOUND, 404)
        return _stream(turn.events())

    return Starlette(routes=[Route("/chatkit", chatkit, methods=["POST"])], lifespan=lifespan)


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
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pool", type=int, default=10, help="PostgreSQL pool size per worker")
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="granian")
    args = parser.parse_args()
    os.environ["BENCH_REFERENCE_DB"] = args.db
    os.environ["BENCH_REFERENCE_PROJECT"] = args.project
    os.environ["BENCH_REFERENCE_POOL"] = str(args.pool)
    serve("reference_turn_app:create_app", args)


if __name__ == "__main__":
    main()
