"""Protocol models <-> REST shapes, both ways (threadkit.shapes is pure: no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    EntitySource,
    FileAttachment,
    FileSource,
    ImageAttachment,
    InferenceOptions,
    SDKHiddenContextItem,
    TaskItem,
    ThoughtTask,
    ToolChoice,
    URLSource,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import WidgetRoot
from pydantic import TypeAdapter

from tests.helpers import all_item_types, thread, validate
from threadkit import shapes

WHEN = datetime(2024, 4, 5, 19, 33, 20, 123456, tzinfo=UTC)
WHEN_S = 1712345600


def _head(item_id: str = "cthi_1") -> dict:
    return {"id": item_id, "thread_id": "cthr_1", "created_at": WHEN}


def test_time_conversions() -> None:
    assert shapes.datetime_to_us(WHEN) == WHEN_S * 1_000_000 + 123456
    assert shapes.us_to_datetime(WHEN_S * 1_000_000 + 123456) == WHEN
    naive_local = WHEN.astimezone().replace(tzinfo=None)
    assert shapes.datetime_to_us(naive_local) == WHEN_S * 1_000_000 + 123456


def test_thread_to_rest() -> None:
    rest = shapes.thread_to_rest(
        "cthr_1", WHEN_S * 1_000_000 + 999_999, None, {"type": "closed"}, "u"
    )
    assert rest == {
        "id": "cthr_1",
        "object": "chatkit.thread",
        "created_at": WHEN_S,
        "title": None,
        "status": {"type": "closed", "reason": None},
        "user": "u",
    }
    validate(rest, "ThreadResource")
    assert shapes.status_to_rest({"type": "active", "reason": "ignored"}) == {"type": "active"}
    assert shapes.status_from_rest({"type": "locked", "reason": "r"}).reason == "r"  # type: ignore[union-attr]


def test_user_message_to_rest() -> None:
    item = UserMessageItem(
        **_head(),
        content=[UserMessageTextContent(text="hi")],
        attachments=[
            FileAttachment(id="f1", name="a.txt", mime_type="text/plain"),
            ImageAttachment(
                id="f2", name="b.png", mime_type="image/png", preview_url="https://x.example/b.png"
            ),
        ],
        quoted_text="earlier",
        inference_options=InferenceOptions(tool_choice=ToolChoice(id="t"), model="m"),
    )
    rest = shapes.protocol_item_to_rest(item)
    validate(rest, "ThreadItem")
    assert rest == {
        "id": "cthi_1",
        "object": "chatkit.thread_item",
        "created_at": WHEN_S,
        "thread_id": "cthr_1",
        "type": "chatkit.user_message",
        "content": [
            {"type": "quoted_text", "text": "earlier"},
            {"type": "input_text", "text": "hi"},
        ],
        "attachments": [
            {
                "type": "file",
                "id": "f1",
                "name": "a.txt",
                "mime_type": "text/plain",
                "preview_url": None,
            },
            {
                "type": "image",
                "id": "f2",
                "name": "b.png",
                "mime_type": "image/png",
                "preview_url": "https://x.example/b.png",
            },
        ],
        "inference_options": {"tool_choice": {"id": "t"}, "model": "m"},
    }


def test_assistant_message_drops_only_entity_annotations() -> None:
    item = AssistantMessageItem(
        **_head(),
        content=[
            AssistantMessageContent(
                text="see",
                annotations=[
                    Annotation(source=URLSource(title="t", url="https://e.example")),
                    Annotation(source=FileSource(title="f", filename="f.txt")),
                    Annotation(source=EntitySource(title="e", id="ent")),
                ],
            )
        ],
    )
    rest = shapes.protocol_item_to_rest(item)
    validate(rest, "ThreadItem")
    assert rest["content"] == [  # type: ignore[index]
        {
            "type": "output_text",
            "text": "see",
            "annotations": [
                {"type": "url", "source": {"type": "url", "url": "https://e.example"}},
                {"type": "file", "source": {"type": "file", "filename": "f.txt"}},
            ],
        }
    ]


def test_tool_call_task_workflow_widget_to_rest() -> None:
    call = ClientToolCallItem(
        **_head(), call_id="c", name="n", arguments={"a": 1}, output={"ok": True}
    )
    rest = shapes.protocol_item_to_rest(call)
    validate(rest, "ThreadItem")
    assert (rest["status"], rest["arguments"], rest["output"]) == (
        "in_progress",
        '{"a": 1}',
        '{"ok": true}',
    )  # type: ignore[index]

    task = TaskItem(**_head(), task=ThoughtTask(title="T", content="C"))
    rest = shapes.protocol_item_to_rest(task)
    validate(rest, "ThreadItem")
    assert (rest["task_type"], rest["heading"], rest["summary"]) == ("thought", "T", "C")  # type: ignore[index]

    flow = WorkflowItem(
        **_head(),
        workflow=Workflow(type="custom", tasks=[CustomTask(title="x"), ThoughtTask(content="y")]),
    )
    rest = shapes.protocol_item_to_rest(flow)
    validate(rest, "ThreadItem")
    assert rest["tasks"] == [  # type: ignore[index]
        {"type": "custom", "heading": "x", "summary": None},
        {"type": "thought", "heading": None, "summary": "y"},
    ]

    root = TypeAdapter(WidgetRoot).validate_python(
        {"type": "Card", "children": [{"type": "Text", "value": "v"}]}
    )
    rest = shapes.protocol_item_to_rest(WidgetItem(**_head(), widget=root))
    validate(rest, "ThreadItem")
    assert TypeAdapter(WidgetRoot).validate_json(rest["widget"]) == root  # type: ignore[index]


def test_hidden_items_have_no_rest_shape() -> None:
    assert shapes.protocol_item_to_rest(SDKHiddenContextItem(**_head(), content="x")) is None
    assert shapes.protocol_item_to_rest(EndOfTurnItem(**_head())) is None
    assert shapes.rest_type_of(EndOfTurnItem(**_head())) is None


@pytest.mark.parametrize("index", range(6))
def test_every_rest_item_becomes_a_protocol_item(index: int) -> None:
    rest = all_item_types("cthr_1")[index]
    item = shapes.rest_item_to_protocol(rest)
    assert item.id == rest["id"]
    assert item.thread_id == "cthr_1"
    assert shapes.datetime_to_us(item.created_at) == rest["created_at"] * 1_000_000
    back = shapes.protocol_item_to_rest(item)
    validate(back, "ThreadItem")
    assert back["type"] == rest["type"]  # type: ignore[index]


def test_rest_to_protocol_values() -> None:
    user, assistant, widget, call, task, group = (
        shapes.rest_item_to_protocol(i) for i in all_item_types("cthr_1")
    )
    assert isinstance(user, UserMessageItem)
    assert [c.text for c in user.content] == ["hello"]
    assert user.quoted_text == "quoted"
    assert user.attachments[0].name == "report.pdf" and user.attachments[0].type == "file"
    assert user.inference_options.tool_choice.id == "search"  # type: ignore[union-attr]
    assert isinstance(assistant, AssistantMessageItem)
    assert assistant.content[0].annotations[0].source.url == "https://example.com/a"  # type: ignore[union-attr]
    assert isinstance(widget, WidgetItem) and widget.widget.type == "Card"
    assert isinstance(call, ClientToolCallItem)
    assert (call.status, call.arguments, call.output) == ("pending", {"city": "Paris"}, None)
    assert (
        isinstance(task, TaskItem)
        and task.task.type == "thought"
        and task.task.content == "About the weather"
    )  # type: ignore[union-attr]
    assert isinstance(group, WorkflowItem) and [t.type for t in group.workflow.tasks] == [
        "custom",
        "thought",
    ]


def test_rest_values_the_protocol_cannot_hold_do_not_fail() -> None:
    rest = all_item_types("cthr_1")[2] | {"widget": "just some text"}
    widget = shapes.rest_item_to_protocol(rest)
    assert isinstance(widget, WidgetItem)
    assert "just some text" in widget.widget.model_dump_json()
    rest = all_item_types("cthr_1")[3] | {
        "arguments": "not json",
        "status": "completed",
        "output": "42",
    }
    call = shapes.rest_item_to_protocol(rest)
    assert isinstance(call, ClientToolCallItem)
    assert (call.arguments, call.status, call.output) == ({"value": "not json"}, "completed", "42")
    image = all_item_types("cthr_1")[0]
    image["attachments"] = [
        {"type": "image", "id": "i", "name": "n", "mime_type": "image/png", "preview_url": None}
    ]
    user = shapes.rest_item_to_protocol(image)
    assert user.attachments[0].id == "i"  # type: ignore[union-attr]


def test_protocol_json_round_trip_is_exact() -> None:
    item = UserMessageItem(
        id="cthi_1",
        thread_id="cthr_1",
        created_at=datetime(2024, 1, 1, 12, 0, 0, 5),  # naive, as ChatKitServer makes them
        content=[UserMessageTextContent(text="x")],
        inference_options=InferenceOptions(),
    )
    assert shapes.protocol_item_from_json(shapes.protocol_item_to_json(item)) == item


def test_thread_factory_is_valid() -> None:
    validate(thread(), "ThreadResource")
