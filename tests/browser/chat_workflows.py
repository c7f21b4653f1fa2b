"""``python`` workflows for the chat component's browser tests (collected by
tests/browser/conftest.py through ``WORKFLOWS``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit.actions import ActionConfig
from chatkit.server import stream_widget
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    ClientEffectEvent,
    ClientToolCallItem,
    CustomSummary,
    CustomTask,
    ErrorEvent,
    GeneratedImage,
    GeneratedImageItem,
    NoticeEvent,
    ProgressUpdateEvent,
    SearchTask,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    SyncCustomActionResponse,
    TaskItem,
    ThoughtTask,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    URLSource,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import Button, Card, Text

from tests.sample_workflows import _message, _started, _text

WORKFLOWS = {
    "flaky": "tests.browser.chat_workflows:flaky",
    "tool": "tests.browser.chat_workflows:tool",
    "drip": "tests.browser.chat_workflows:drip",
    "inject": "tests.browser.chat_workflows:inject",
    "rich": "tests.browser.chat_workflows:rich",
    "survey": "tests.browser.chat_workflows:survey",
    "panel": "tests.browser.chat_workflows:Panel",
}

#: user message ids that already failed once (the server process keeps them)
_FAILED: set[str] = set()


async def flaky(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """The first answer to each message is an error the user may retry; the retry
    answers ``recovered: <text>``."""
    if message.id not in _FAILED:
        _FAILED.add(message.id)
        yield ErrorEvent(code="custom", message="The model is busy right now.", allow_retry=True)
        return
    yield ThreadItemDoneEvent(item=_message(thread, context, f"recovered: {_text(message)}"))


async def tool(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """Asks the client's ``get_color`` tool (with the user's text as ``for``), then
    answers with what the tool returned."""
    if message is not None:
        yield ThreadItemDoneEvent(
            item=ClientToolCallItem(
                id=context.store.generate_item_id("tool_call", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                call_id="call_1",
                name="get_color",
                arguments={"for": _text(message)},
            )
        )
        return
    history = await context.load_history(thread.id)
    call = next(i for i in reversed(history) if isinstance(i, ClientToolCallItem))
    yield ThreadItemDoneEvent(item=_message(thread, context, f"the tool said {call.output}"))


async def drip(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """Streams ``word 1 word 2 ...`` a tenth of a second apart, 600 words (a minute):
    long enough to be stopped half way."""
    item = _message(thread, context)
    for event in _started(item):
        yield event
    for n in range(1, 601):
        await asyncio.sleep(0.1)
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartTextDelta(content_index=0, delta=f"word {n} "),
        )
    text = "".join(f"word {n} " for n in range(1, 601))
    yield ThreadItemDoneEvent(
        item=item.model_copy(update={"content": [AssistantMessageContent(text=text)]})
    )


#: markdown that tries every way in: each attempt would set window.__pwned
INJECTION = """# Hello

<script>window.__pwned = 'script'</script>

<img src="x" onerror="window.__pwned = 'onerror'">

[click me](javascript:window.__pwned='link')

[data link](data:text/html,<script>window.__pwned='data'</script>)

<a href="#" onclick="window.__pwned='onclick'">handler</a>

![remote cat](http://203.0.113.7/cat.png)

![local icon](/ui/page/favicon.svg)

<iframe src="http://203.0.113.7/frame"></iframe>

<div style="background:url(http://203.0.113.7/bg.png)">styled</div>

[a fine link](https://example.com/docs)
"""


async def inject(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """Answers with INJECTION, streamed in small pieces."""
    item = _message(thread, context)
    for event in _started(item):
        yield event
    for start in range(0, len(INJECTION), 17):
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartTextDelta(
                content_index=0, delta=INJECTION[start : start + 17]
            ),
        )
    yield ThreadItemDoneEvent(
        item=item.model_copy(update={"content": [AssistantMessageContent(text=INJECTION)]})
    )


async def rich(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """One of everything a turn can show besides widgets: progress, a notice, a client
    effect, a workflow with tasks, a task, an answer with a source, a generated image."""

    def new_id(kind: str) -> str:
        return context.store.generate_item_id(kind, thread, context)

    now = datetime.now()
    yield ProgressUpdateEvent(text="Looking things up")
    yield NoticeEvent(level="info", title="Heads up", message="This is **only** a test.")
    yield ClientEffectEvent(name="confetti", data={"count": 3})
    yield ThreadItemDoneEvent(
        item=WorkflowItem(
            id=new_id("workflow"),
            thread_id=thread.id,
            created_at=now,
            workflow=Workflow(
                type="custom",
                summary=CustomSummary(title="Planned the answer"),
                tasks=[
                    CustomTask(title="Read the question", content="It asks *something*."),
                    SearchTask(title_query="threadkit", queries=["threadkit docs"]),
                    ThoughtTask(content="Thinking it over.", status_indicator="complete"),
                ],
            ),
        )
    )
    yield ThreadItemDoneEvent(
        item=TaskItem(
            id=new_id("task"),
            thread_id=thread.id,
            created_at=now,
            task=CustomTask(title="Checked the sources", content="All fine."),
        )
    )
    answer = _message(thread, context, f"Here is the answer to {_text(message)}.")
    answer.content[0].annotations = [
        Annotation(
            source=URLSource(title="The threadkit docs", url="https://example.com/threadkit"),
            index=10,
        )
    ]
    yield ThreadItemDoneEvent(item=answer)
    pixel = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    yield ThreadItemDoneEvent(
        item=GeneratedImageItem(
            id=new_id("message"),
            thread_id=thread.id,
            created_at=now,
            image=GeneratedImage(id="img_1", url=pixel),
        )
    )


async def survey(thread: Any, message: Any, context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """Asks two questions (a choice and a free answer), then answers with the replies."""
    if message is not None:
        yield ThreadItemDoneEvent(
            item=StructuredInputItem(
                id=context.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                inputs=[
                    StructuredInputMultipleChoice(
                        id="colour",
                        question="Which colour?",
                        options=[
                            StructuredInputMultipleChoiceOption(value="red"),
                            StructuredInputMultipleChoiceOption(value="blue"),
                        ],
                    ),
                    StructuredInputFreeform(id="name", question="Your name?"),
                ],
            )
        )
        return
    history = await context.load_history(thread.id)
    asked = next(i for i in reversed(history) if isinstance(i, StructuredInputItem))
    replies = {q.id: ",".join(q.answer.values) if q.answer else "-" for q in asked.inputs}
    yield ThreadItemDoneEvent(
        item=_message(thread, context, f"colour={replies['colour']} name={replies['name']}")
    )


class Panel:
    """A Card with three buttons, one for each way an action goes: to the page
    (``handler="client"``), to ``threads.sync_custom_action`` (``streaming=False``, the
    widget replaced by the answer) and to ``threads.custom_action`` (a streamed answer)."""

    async def respond(self, thread: Any, message: Any, context: Any) -> AsyncIterator[Any]:
        card = Card(
            children=[
                Text(value="Pick a way"),
                Button(
                    label="Client side",
                    onClickAction=ActionConfig(
                        type="panel.local", payload={"k": 1}, handler="client"
                    ),
                ),
                Button(
                    label="Quick",
                    onClickAction=ActionConfig(
                        type="panel.sync", payload={"k": 2}, streaming=False
                    ),
                ),
                Button(
                    label="Streamed",
                    onClickAction=ActionConfig(type="panel.stream", payload={"k": 3}),
                ),
            ]
        )

        def new_id(kind: str) -> str:
            return context.store.generate_item_id(kind, thread, context)

        async for event in stream_widget(thread, card, "a panel", new_id):
            yield event

    async def action(
        self, thread: Any, action: Any, sender: Any, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        text = f"streamed {action.type} {action.payload} from {sender.type if sender else None}"
        yield ThreadItemDoneEvent(item=_message(thread, context, text))

    async def sync_action(
        self, thread: Any, action: Any, sender: Any, context: Any
    ) -> SyncCustomActionResponse:
        widget = Card(children=[Text(value=f"synced {action.type} {action.payload}")])
        return SyncCustomActionResponse(updated_item=sender.model_copy(update={"widget": widget}))
