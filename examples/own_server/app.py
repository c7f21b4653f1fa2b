"""Your own ChatKit server on a threadkit store: answers every message with its text reversed.

    python app.py                                  # SQLite file ./chat.db, port 8001
    python app.py --db postgresql://user@host/db   # or set THREADKIT_DATABASE_URL

``threadkit serve`` on the same database serves these threads over the REST API. The app
also serves a chat page at ``/`` with threadkit's ``<threadkit-chat>`` component, whose
files it mounts from ``threadkit.web`` under ``/ui``.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import uvicorn
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from threadkit import StoreContext, StoreUnavailable, open_store
from threadkit.web import SECURITY_HEADERS, ui_app

PAGE = Path(__file__).resolve().parent / "page"
PAGE_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


class ReverseServer(ChatKitServer[StoreContext]):
    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: StoreContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message is None:
            return
        answer = "".join(part.text for part in input_user_message.content)[::-1]
        item = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        yield ThreadItemAddedEvent(item=item)
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartAdded(
                content_index=0, content=AssistantMessageContent(text="")
            ),
        )
        for word in re.split(r"(?<=\s)(?=\S)", answer):  # word by word, as a model streams
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta=word),
            )
        # ChatKitServer stores the item when it sees this event.
        done = item.model_copy(update={"content": [AssistantMessageContent(text=answer)]})
        yield ThreadItemDoneEvent(item=done)


def create_app(database_url: str, project: str = "default") -> Starlette:
    store = open_store(database_url, project=project)  # SQLiteStore or PostgresStore
    server = ReverseServer(store)

    async def chatkit(request: Request) -> Response:
        # Stands in for your own authentication: never trust a user id the client picks.
        user = request.headers.get("x-user")
        if not user:
            return JSONResponse({"error": "X-User header required"}, status_code=401)
        try:
            result = await server.process(await request.body(), StoreContext(user_id=user))
        except NotFoundError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except StoreUnavailable:
            return JSONResponse({"error": "try again later"}, status_code=503)
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(result.json, media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Opening here migrates the schema at start-up rather than on the first request.
        async with store:
            yield

    return Starlette(
        routes=[
            Route("/chatkit", chatkit, methods=["POST"]),
            # the page of this app, with the same strict headers as the component's files
            Route("/", page_file("index.html")),
            Route("/chat.js", page_file("chat.js")),
            Route("/page.css", page_file("page.css")),
            # <threadkit-chat> and what it loads (without threadkit's own page)
            Mount("/ui", app=ui_app(enabled_page=False)),
        ],
        lifespan=lifespan,
    )


def page_file(name: str) -> Callable[[Request], Awaitable[Response]]:
    body = (PAGE / name).read_bytes()
    media_type = PAGE_TYPES[Path(name).suffix]
    headers = {k.decode(): v.decode() for k, v in SECURITY_HEADERS}

    async def serve(request: Request) -> Response:
        return Response(body, media_type=media_type, headers=headers)

    return serve


def main() -> None:
    parser = argparse.ArgumentParser(description="A ChatKit server on a threadkit store.")
    parser.add_argument(
        "--db", default=os.environ.get("THREADKIT_DATABASE_URL", "sqlite:///chat.db")
    )
    parser.add_argument("--project", default="default")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(create_app(args.db, args.project), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
