"""A ChatKit server made from openai-chatkit alone: ``ChatKitServer`` with a store that
keeps everything in memory, behind one Starlette route, and the component's files from
``threadkit.web.ui_app()``. Nothing of threadkit's backend takes part."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import uvicorn
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    Attachment,
    Page,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route

from tests.conftest import free_port
from threadkit.web import ui_app


def _page(rows: list[Any], after: str | None, limit: int, order: str) -> Page[Any]:
    ordered = rows if order == "asc" else rows[::-1]
    start = 0
    if after is not None:
        ids = [row.id for row in ordered]
        start = ids.index(after) + 1 if after in ids else len(ordered)
    data = ordered[start : start + limit]
    has_more = start + limit < len(ordered)
    return Page(data=data, has_more=has_more, after=data[-1].id if data else None)


class MemoryStore(Store[dict[str, Any]]):
    """Threads, items and attachments in dictionaries (one process, no persistence)."""

    def __init__(self) -> None:
        self.threads: dict[str, ThreadMetadata] = {}
        self.items: dict[str, list[ThreadItem]] = {}
        self.attachments: dict[str, Attachment] = {}

    async def load_thread(self, thread_id: str, context: dict[str, Any]) -> ThreadMetadata:
        if thread_id not in self.threads:
            raise NotFoundError(f"Thread {thread_id} not found")
        return self.threads[thread_id].model_copy(deep=True)

    async def save_thread(self, thread: ThreadMetadata, context: dict[str, Any]) -> None:
        self.threads[thread.id] = ThreadMetadata(**thread.model_dump())
        self.items.setdefault(thread.id, [])

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: dict[str, Any],
    ) -> Page[ThreadItem]:
        return _page(self.items.get(thread_id, []), after, limit, order)

    async def save_attachment(self, attachment: Attachment, context: dict[str, Any]) -> None:
        self.attachments[attachment.id] = attachment

    async def load_attachment(self, attachment_id: str, context: dict[str, Any]) -> Attachment:
        if attachment_id not in self.attachments:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return self.attachments[attachment_id]

    async def delete_attachment(self, attachment_id: str, context: dict[str, Any]) -> None:
        self.attachments.pop(attachment_id, None)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: dict[str, Any]
    ) -> Page[ThreadMetadata]:
        threads = sorted(self.threads.values(), key=lambda t: t.created_at)
        return _page(threads, after, limit, order)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: dict[str, Any]
    ) -> None:
        self.items.setdefault(thread_id, []).append(item)

    async def save_item(self, thread_id: str, item: ThreadItem, context: dict[str, Any]) -> None:
        items = self.items.setdefault(thread_id, [])
        for n, existing in enumerate(items):
            if existing.id == item.id:
                items[n] = item
                return
        items.append(item)

    async def load_item(self, thread_id: str, item_id: str, context: dict[str, Any]) -> ThreadItem:
        for item in self.items.get(thread_id, []):
            if item.id == item_id:
                return item
        raise NotFoundError(f"Item {item_id} not found")

    async def delete_thread(self, thread_id: str, context: dict[str, Any]) -> None:
        self.threads.pop(thread_id, None)
        self.items.pop(thread_id, None)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: dict[str, Any]
    ) -> None:
        self.items[thread_id] = [i for i in self.items.get(thread_id, []) if i.id != item_id]


class EchoServer(ChatKitServer[dict[str, Any]]):
    """Answers with the user's text, word by word; titles a thread after its first
    message."""

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message is None:
            return
        text = "".join(getattr(part, "text", "") for part in input_user_message.content)
        if not thread.title:
            thread.title = text[:40]
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
        for word in re.split(r"(?<=\s)(?=\S)", text):
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta=word),
            )
        done = item.model_copy(update={"content": [AssistantMessageContent(text=text)]})
        yield ThreadItemDoneEvent(item=done)


def make_app() -> Starlette:
    server = EchoServer(MemoryStore())

    async def chatkit(request: Request) -> Response:
        result = await server.process(await request.body(), {"user": "dora"})
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(result.json, media_type="application/json")

    return Starlette(
        routes=[
            Route("/chatkit", chatkit, methods=["POST"]),
            Mount("/", app=ui_app(enabled_page=False)),
        ]
    )


@dataclass
class UpstreamServer:
    url: str


@contextmanager
def running_upstream() -> Iterator[UpstreamServer]:
    """The app on a loopback port, in a thread of the test process."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(make_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the openai-chatkit app did not start")
        time.sleep(0.02)
    try:
        yield UpstreamServer(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
