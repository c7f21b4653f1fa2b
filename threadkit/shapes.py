"""Conversion between the ChatKit protocol models and the REST shapes.

The protocol (``chatkit.types``) and the REST API describe the same thread items
with different fields: REST carries things the protocol models cannot hold (a file
attachment's ``preview_url``, a tool call ``in_progress``, a widget as a string)
and the reverse (entity annotations, widget trees, hidden context items).

threadkit stores every item in the shape it arrived in and derives the other shape
on read with the functions here. Derivation never fails: what one side lacks is
filled with the closest faithful value. This module is pure (no I/O) and is used
by the stores (for the ``chatkit.store.Store`` interface) and by the services.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chatkit.types import (
    ActiveStatus,
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    ClosedStatus,
    CustomTask,
    FileAttachment,
    FileSource,
    ImageAttachment,
    InferenceOptions,
    LockedStatus,
    TaskItem,
    ThoughtTask,
    ThreadItem,
    ThreadStatus,
    ToolChoice,
    URLSource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import WidgetRoot
from pydantic import TypeAdapter, ValidationError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WIDGET_ROOT: TypeAdapter[Any] = TypeAdapter(WidgetRoot)
_THREAD_ITEM: TypeAdapter[Any] = TypeAdapter(ThreadItem)


# --- time -------------------------------------------------------------------------------


def datetime_to_us(value: datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is local time, as in Python."""
    if value.tzinfo is None:
        value = value.astimezone(UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def us_to_datetime(us: int) -> datetime:
    """The aware UTC datetime for a count of microseconds since the epoch."""
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


# --- threads ----------------------------------------------------------------------------


def status_to_rest(status: ThreadStatus | dict[str, Any]) -> dict[str, Any]:
    """The REST ``status`` object: ``{"type": "active"}`` or ``{"type", "reason"}``."""
    data = status if isinstance(status, dict) else status.model_dump()
    kind = data.get("type", "active")
    if kind == "active":
        return {"type": "active"}
    return {"type": kind, "reason": data.get("reason")}


def status_from_rest(data: dict[str, Any]) -> ThreadStatus:
    """The protocol status model for a REST ``status`` object."""
    kind = data.get("type")
    if kind == "locked":
        return LockedStatus(reason=data.get("reason"))
    if kind == "closed":
        return ClosedStatus(reason=data.get("reason"))
    return ActiveStatus()


def thread_to_rest(
    thread_id: str, created_us: int, title: str | None, status: dict[str, Any], user: str
) -> dict[str, Any]:
    """The ``chatkit.thread`` REST object, fields in the order of the API reference."""
    return {
        "id": thread_id,
        "object": "chatkit.thread",
        "created_at": created_us // 1_000_000,
        "title": title,
        "status": status_to_rest(status),
        "user": user,
    }


# --- items: protocol -> REST ------------------------------------------------------------


def _item_head(item: Any, rest_type: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "object": "chatkit.thread_item",
        "created_at": datetime_to_us(item.created_at) // 1_000_000,
        "thread_id": item.thread_id,
        "type": rest_type,
    }


def _attachment_to_rest(attachment: FileAttachment | ImageAttachment) -> dict[str, Any]:
    preview = getattr(attachment, "preview_url", None)
    return {
        "type": attachment.type,
        "id": attachment.id,
        "name": attachment.name,
        "mime_type": attachment.mime_type,
        "preview_url": str(preview) if preview is not None else None,
    }


def _annotation_to_rest(annotation: Annotation) -> dict[str, Any] | None:
    source = annotation.source
    if isinstance(source, URLSource):
        return {"type": "url", "source": {"type": "url", "url": source.url}}
    if isinstance(source, FileSource):
        return {"type": "file", "source": {"type": "file", "filename": source.filename}}
    return None  # entity sources have no REST counterpart


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _task_to_rest(task: Any) -> dict[str, Any]:
    kind = "thought" if task.type == "thought" else "custom"
    heading = getattr(task, "title", None) or getattr(task, "title_query", None)
    summary = getattr(task, "content", None)
    if summary is None and task.type == "web_search":
        summary = "\n".join(task.queries) or None
    return {"type": kind, "heading": heading, "summary": summary}


def protocol_item_to_rest(item: ThreadItem) -> dict[str, Any] | None:
    """The REST shape of a protocol item, or ``None`` for items REST does not show.

    Generated images, structured inputs, end-of-turn markers and hidden context
    items have no REST type and are not listed by the REST API.
    """
    if isinstance(item, UserMessageItem):
        content: list[dict[str, Any]] = []
        if item.quoted_text is not None:
            content.append({"type": "quoted_text", "text": item.quoted_text})
        for part in item.content:
            content.append({"type": "input_text", "text": part.text})
        options = item.inference_options
        return {
            **_item_head(item, "chatkit.user_message"),
            "content": content,
            "attachments": [_attachment_to_rest(a) for a in item.attachments],
            "inference_options": {
                "tool_choice": (
                    {"id": options.tool_choice.id} if options.tool_choice is not None else None
                ),
                "model": options.model,
            },
        }
    if isinstance(item, AssistantMessageItem):
        return {
            **_item_head(item, "chatkit.assistant_message"),
            "content": [
                {
                    "type": "output_text",
                    "text": part.text,
                    "annotations": [
                        rest
                        for rest in (_annotation_to_rest(a) for a in part.annotations)
                        if rest is not None
                    ],
                }
                for part in item.content
            ],
        }
    if isinstance(item, WidgetItem):
        return {
            **_item_head(item, "chatkit.widget"),
            "widget": item.widget.model_dump_json(exclude_none=True),
        }
    if isinstance(item, ClientToolCallItem):
        return {
            **_item_head(item, "chatkit.client_tool_call"),
            "status": "completed" if item.status == "completed" else "in_progress",
            "call_id": item.call_id,
            "name": item.name,
            "arguments": _json_text(item.arguments),
            "output": None if item.output is None else _json_text(item.output),
        }
    if isinstance(item, TaskItem):
        task = _task_to_rest(item.task)
        return {
            **_item_head(item, "chatkit.task"),
            "task_type": task["type"],
            "heading": task["heading"],
            "summary": task["summary"],
        }
    if isinstance(item, WorkflowItem):
        return {
            **_item_head(item, "chatkit.task_group"),
            "tasks": [_task_to_rest(task) for task in item.workflow.tasks],
        }
    return None


def rest_type_of(item: ThreadItem) -> str | None:
    """The REST ``type`` a protocol item is listed under, or ``None`` if it is hidden."""
    return _REST_TYPE_BY_PROTOCOL_TYPE.get(item.type)


_REST_TYPE_BY_PROTOCOL_TYPE = {
    "user_message": "chatkit.user_message",
    "assistant_message": "chatkit.assistant_message",
    "widget": "chatkit.widget",
    "client_tool_call": "chatkit.client_tool_call",
    "task": "chatkit.task",
    "workflow": "chatkit.task_group",
}


# --- items: REST -> protocol ------------------------------------------------------------


def _attachment_from_rest(data: dict[str, Any], thread_id: str) -> FileAttachment | ImageAttachment:
    common = {
        "id": data["id"],
        "name": data["name"],
        "mime_type": data["mime_type"],
        "thread_id": thread_id,
    }
    if data.get("type") == "image" and data.get("preview_url"):
        try:
            return ImageAttachment(**common, preview_url=data["preview_url"])
        except ValidationError:
            pass
    return FileAttachment(**common)


def _annotation_from_rest(data: dict[str, Any]) -> Annotation:
    source = data.get("source") or {}
    if data.get("type") == "url":
        url = source.get("url", "")
        return Annotation(source=URLSource(title=url, url=url))
    filename = source.get("filename", "")
    return Annotation(source=FileSource(title=filename, filename=filename))


def _widget_from_rest(text: str) -> Any:
    try:
        return _WIDGET_ROOT.validate_json(text)
    except ValidationError:
        # Not a widget tree the protocol knows: show the text rather than fail.
        return _WIDGET_ROOT.validate_python(
            {"type": "Basic", "children": [{"type": "Text", "value": text}]}
        )


def json_object_from_text(text: str) -> dict[str, Any]:
    """A tool call's ``arguments`` text as the object the protocol holds (a value that
    is not an object is wrapped as ``{"value": ...}``)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"value": text}
    return value if isinstance(value, dict) else {"value": value}


def _task_from_rest(kind: str, heading: str | None, summary: str | None) -> Any:
    if kind == "thought":
        return ThoughtTask(title=heading, content=summary or "")
    return CustomTask(title=heading, content=summary)


def rest_item_to_protocol(data: dict[str, Any]) -> ThreadItem:
    """The protocol model for an item stored in the REST shape."""
    head = {
        "id": data["id"],
        "thread_id": data["thread_id"],
        "created_at": datetime.fromtimestamp(data["created_at"], UTC),
    }
    kind = data["type"]
    if kind == "chatkit.user_message":
        quoted = [p["text"] for p in data["content"] if p.get("type") == "quoted_text"]
        options = data.get("inference_options") or {}
        tool_choice = options.get("tool_choice")
        return UserMessageItem(
            **head,
            content=[
                UserMessageTextContent(text=p["text"])
                for p in data["content"]
                if p.get("type") == "input_text"
            ],
            attachments=[_attachment_from_rest(a, data["thread_id"]) for a in data["attachments"]],
            quoted_text="\n".join(quoted) if quoted else None,
            inference_options=InferenceOptions(
                tool_choice=ToolChoice(id=tool_choice["id"]) if tool_choice else None,
                model=options.get("model"),
            ),
        )
    if kind == "chatkit.assistant_message":
        return AssistantMessageItem(
            **head,
            content=[
                AssistantMessageContent(
                    text=part["text"],
                    annotations=[_annotation_from_rest(a) for a in part.get("annotations", [])],
                )
                for part in data["content"]
            ],
        )
    if kind == "chatkit.widget":
        return WidgetItem(**head, widget=_widget_from_rest(data["widget"]))
    if kind == "chatkit.client_tool_call":
        output = data.get("output")
        return ClientToolCallItem(
            **head,
            status="completed" if data["status"] == "completed" else "pending",
            call_id=data["call_id"],
            name=data["name"],
            arguments=json_object_from_text(data["arguments"]),
            output=output,
        )
    if kind == "chatkit.task":
        return TaskItem(
            **head, task=_task_from_rest(data["task_type"], data["heading"], data["summary"])
        )
    if kind == "chatkit.task_group":
        return WorkflowItem(
            **head,
            workflow=Workflow(
                type="custom",
                tasks=[
                    _task_from_rest(t["type"], t["heading"], t["summary"]) for t in data["tasks"]
                ],
            ),
        )
    raise ValueError(f"unknown REST item type {kind!r}")


def protocol_item_from_json(payload: str | bytes) -> ThreadItem:
    """Parse a protocol item stored as JSON."""
    return _THREAD_ITEM.validate_json(payload)


def protocol_item_to_json(item: ThreadItem) -> str:
    """Serialize a protocol item losslessly (every field, metadata included)."""
    return item.model_dump_json()


__all__ = [
    "UserMessageTagContent",
    "datetime_to_us",
    "json_object_from_text",
    "protocol_item_from_json",
    "protocol_item_to_json",
    "protocol_item_to_rest",
    "rest_item_to_protocol",
    "rest_type_of",
    "status_from_rest",
    "status_to_rest",
    "thread_to_rest",
    "us_to_datetime",
]
