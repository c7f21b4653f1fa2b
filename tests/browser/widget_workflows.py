"""The ``widgets`` python workflow of the browser tests: it answers with one widget item
of each root kind (a Card holding every component of ``chatkit.widgets``, whose
``streamed`` Text arrives as value deltas and then a root update ending its streaming;
a ListView; a Basic root), and answers a ``widgets.echo`` action with a message
echoing the payload (``threads.custom_action``) or by replacing the widget with that
echo (``threads.sync_custom_action``).

The builders are shared with the renderer's tests, which render the same JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit.actions import ActionConfig
from chatkit.server import stream_widget
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
    ThreadStreamEvent,
)
from chatkit.widgets import (
    Badge,
    BarSeries,
    BasicRoot,
    Box,
    Button,
    Caption,
    Card,
    Chart,
    Checkbox,
    Col,
    DatePicker,
    Divider,
    Form,
    Icon,
    Image,
    Input,
    Label,
    LineSeries,
    ListView,
    ListViewItem,
    Markdown,
    RadioGroup,
    Row,
    Select,
    Spacer,
    Text,
    Textarea,
    Title,
    Transition,
)

#: the action every control of the widgets fires (the workflow echoes its payload)
ECHO = "widgets.echo"
#: what the streamed Text says once complete, in the deltas it arrives in
STREAMED = ["Streaming ", "one ", "Text ", "in ", "deltas."]


def echo(payload: dict[str, Any] | None = None, **options: Any) -> ActionConfig:
    return ActionConfig(type=ECHO, payload=payload or {}, **options)


def card(streamed: str = "".join(STREAMED), streaming: bool = False) -> Card:
    """A form Card with every component; its Text ``streamed`` shows ``streamed``."""
    return Card(
        id="card",
        asForm=True,
        size="lg",
        status={"text": "Every component", "icon": "sparkle"},
        confirm={"label": "Send", "action": echo({"via": "confirm"})},
        cancel={"label": "Cancel", "action": echo({"via": "cancel"})},
        children=[
            Title(id="title", value="Widget gallery", size="lg"),
            Text(id="streamed", value=streamed, streaming=streaming),
            Caption(value="A caption", color="secondary"),
            Markdown(id="md", value="Some **markdown** text"),
            Row(
                gap=2,
                children=[
                    Icon(name="star-filled", color="warning"),
                    Badge(label="New", color="success"),
                    Spacer(),
                    Image(src="/ui/page/favicon.svg", alt="threadkit logo", size=24),
                ],
            ),
            Divider(),
            Col(
                gap=1,
                children=[
                    Label(value="Your name", fieldName="name"),
                    Input(name="name", placeholder="Ada", required=True),
                    Label(value="Notes", fieldName="notes"),
                    Textarea(name="notes", rows=2),
                ],
            ),
            Box(
                direction="row",
                gap=3,
                children=[
                    Select(
                        name="size",
                        placeholder="Size",
                        options=[
                            {"value": "s", "label": "Small"},
                            {"value": "l", "label": "Large"},
                        ],
                        onChangeAction=echo({"via": "select"}),
                    ),
                    DatePicker(name="day", onChangeAction=echo({"via": "date"})),
                ],
            ),
            Checkbox(name="agree", label="I agree", onChangeAction=echo({"via": "checkbox"})),
            RadioGroup(
                name="color",
                ariaLabel="Color",
                direction="row",
                options=[{"label": "Red", "value": "red"}, {"label": "Blue", "value": "blue"}],
                defaultValue="red",
                onChangeAction=echo({"via": "radio"}),
            ),
            Transition(children=Caption(id="transition", value="Inside a transition")),
            Chart(
                data=[{"m": "Jan", "a": 3, "b": 1}, {"m": "Feb", "a": 5, "b": 2}],
                series=[BarSeries(label="A", dataKey="a"), LineSeries(label="B", dataKey="b")],
                xAxis="m",
                height=160,
            ),
            Button(label="Ping", iconStart="bolt", onClickAction=echo({"via": "button"})),
        ],
    )


def list_view() -> ListView:
    return ListView(
        id="list",
        status={"text": "Three items"},
        children=[
            ListViewItem(
                id=f"item-{n}",
                onClickAction=echo({"via": "item", "n": n}),
                children=[Icon(name="check"), Text(value=f"Item {n}")],
            )
            for n in (1, 2, 3)
        ],
    )


def basic() -> BasicRoot:
    form = Form(
        id="form",
        onSubmitAction=echo({"via": "form"}),
        direction="row",
        gap=2,
        children=[
            Input(name="query", placeholder="Search"),
            Button(label="Go", submit=True),
        ],
    )
    # a Basic root's children are dynamic components: built from their JSON
    children = [
        c.model_dump(mode="json", exclude_none=True) for c in (Title(value="A basic root"), form)
    ]
    return BasicRoot.model_validate({"type": "Basic", "children": children})


class WidgetsWorkflow:
    """A class target: ``respond`` answers every message with the three widgets,
    ``action`` and ``sync_action`` echo ``widgets.echo``."""

    async def respond(self, thread: Any, message: Any, context: Any) -> AsyncIterator[Any]:
        def new_id(kind: str) -> str:
            return context.store.generate_item_id(kind, thread, context)

        async def growing() -> AsyncIterator[Card]:
            text = ""
            yield card(text, streaming=True)
            for delta in STREAMED:
                text += delta
                yield card(text, streaming=True)  # value deltas
            yield card(text)  # streaming ends: the root is replaced

        async for event in stream_widget(thread, growing(), "widget gallery", new_id):
            yield event
        for widget in (list_view(), basic()):
            async for event in stream_widget(thread, widget, None, new_id):
                yield event

    async def action(
        self, thread: Any, action: Any, sender: Any, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        if action.type != ECHO:
            return
        text = f"{ECHO} {json.dumps(action.payload, sort_keys=True)}"
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=context.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[AssistantMessageContent(text=text)],
            )
        )

    async def sync_action(
        self, thread: Any, action: Any, sender: Any, context: Any
    ) -> SyncCustomActionResponse:
        if action.type != ECHO or sender is None:
            return SyncCustomActionResponse()
        text = f"{ECHO} {json.dumps(action.payload, sort_keys=True)}"
        widget = Card(children=[Text(id="echo", value=text)])
        return SyncCustomActionResponse(updated_item=sender.model_copy(update={"widget": widget}))


#: the workflows of this module, by name (tests/browser/conftest.py configures them)
WORKFLOWS = {"widgets": "tests.browser.widget_workflows:WidgetsWorkflow"}
#: the same, under the name the chat's end-to-end tests look for
BROWSER_WORKFLOWS = WORKFLOWS
