"""A ``python`` workflow for threadkit: answers in capitals, streamed word by word.

Run it (from this folder):

    threadkit serve --config threadkit.toml

then create a session with ``workflow={"id": "shouty"}`` and talk to ``POST /chatkit``
(docs/protocol.md walks through it). ``respond`` receives the thread, the new user
message and a ``threadkit.workflows.ChatContext``, and yields ChatKit events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)


async def respond(
    thread: ThreadMetadata, message: UserMessageItem | None, context
) -> AsyncIterator[ThreadStreamEvent]:
    if message is None:
        return
    said = "".join(part.text for part in message.content)
    # Session state variables (workflow.state_variables) arrive on the context.
    name = context.state_variables.get("name", context.user_id)
    # So does the store: here, how many messages the thread holds so far.
    history = await context.load_history(thread.id)
    turn = sum(1 for item in history if item.type == "user_message")
    words = f"{name.upper()}, MESSAGE {turn}: {said.upper()}".split(" ")

    item = AssistantMessageItem(
        id=context.store.generate_item_id("message", thread, context),
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
    for i, word in enumerate(words):
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartTextDelta(
                content_index=0, delta=word if i == 0 else " " + word
            ),
        )
    content = AssistantMessageContent(text=" ".join(words))
    yield ThreadItemUpdatedEvent(
        item_id=item.id, update=AssistantMessageContentPartDone(content_index=0, content=content)
    )
    yield ThreadItemDoneEvent(item=item.model_copy(update={"content": [content]}))
