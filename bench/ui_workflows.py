"""The ``python`` workflow of ``bench/ui.py``: a steady stream of numbered deltas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)

from tests.sample_workflows import _message, _started

DELTAS = 300
#: not a multiple of a 60 Hz frame, so arrivals fall everywhere inside frames
INTERVAL_S = 0.013


async def ticker(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """``tok1 tok2 ... tok300``, one delta every 13 ms, in markdown with some emphasis."""
    item = _message(thread, context)
    for event in _started(item):
        yield event
    text = ""
    for n in range(1, DELTAS + 1):
        await asyncio.sleep(INTERVAL_S)
        delta = f"tok{n} " if n % 40 else f"tok{n}\n\n**bold** and `code`, "
        text += delta
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartTextDelta(content_index=0, delta=delta),
        )
    yield ThreadItemDoneEvent(
        item=item.model_copy(update={"content": [AssistantMessageContent(text=text)]})
    )
