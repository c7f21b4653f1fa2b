"""``python`` workflows used by the tests (named in their servers' TOML configs)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)


def _text(message: Any) -> str:
    return "".join(part.text for part in message.content) if message else ""


def _message(thread: Any, context: Any, text: str | None = None) -> AssistantMessageItem:
    """A new assistant message of ``thread``: empty (to stream into) or with ``text``."""
    return AssistantMessageItem(
        id=context.store.generate_item_id("message", thread, context),
        thread_id=thread.id,
        created_at=datetime.now(),
        content=[] if text is None else [AssistantMessageContent(text=text)],
    )


def _started(item: AssistantMessageItem) -> list[ThreadStreamEvent]:
    """The events that open a streamed answer: the item, then its empty first part."""
    return [
        ThreadItemAddedEvent(item=item),
        ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartAdded(
                content_index=0, content=AssistantMessageContent(text="")
            ),
        ),
    ]


async def slow(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """Streams ``partial `` and then, for the text ``wait``, never finishes; otherwise
    finishes with ``done: <text>``."""
    item = _message(thread, context)
    for event in _started(item):
        yield event
    yield ThreadItemUpdatedEvent(
        item_id=item.id,
        update=AssistantMessageContentPartTextDelta(content_index=0, delta="partial "),
    )
    if _text(message) == "wait":
        await asyncio.Event().wait()  # until the client goes away
    text = f"partial done: {_text(message)}"
    yield ThreadItemDoneEvent(
        item=item.model_copy(update={"content": [AssistantMessageContent(text=text)]})
    )


async def steps(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """For the text ``N``: streams ``step 1 `` ... ``step N `` a fifth of a second apart
    (what a shutdown lets finish, or ends); then finishes the message."""
    item = _message(thread, context)
    for event in _started(item):
        yield event
    text = ""
    for n in range(1, int(_text(message)) + 1):
        await asyncio.sleep(0.2)
        text += f"step {n} "
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartTextDelta(content_index=0, delta=f"step {n} "),
        )
    yield ThreadItemDoneEvent(
        item=item.model_copy(update={"content": [AssistantMessageContent(text=text)]})
    )


async def broken(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """Fails after starting its answer when the user says ``fail``; echoes otherwise."""
    item = _message(thread, context, _text(message))
    if _text(message) == "fail":
        yield ThreadItemAddedEvent(item=item)
        raise RuntimeError("the workflow broke")
    yield ThreadItemDoneEvent(item=item)


async def not_events(thread: Any, message: Any, context: Any) -> AsyncIterator[Any]:
    yield "this is not a ChatKit event"


class Stateful:
    """A class target: built with the config's ``options``; reports the session's state
    variables and the user back."""

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    async def respond(self, thread: Any, message: Any, context: Any) -> AsyncIterator[Any]:
        text = f"{self.greeting} {context.user_id}: {sorted(context.state_variables.items())}"
        yield ThreadItemDoneEvent(item=_message(thread, context, text))
