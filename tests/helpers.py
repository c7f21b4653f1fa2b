"""Test data in the REST shapes, and validation against OpenAI's published schemas."""

from __future__ import annotations

import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).parent / "reference" / "openai-chatkit-openapi.json"


@cache
def _spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text())


@cache
def _registry() -> Registry:
    return Registry().with_resource(
        "urn:openapi", Resource.from_contents(_spec(), default_specification=DRAFT202012)
    )


def validate(instance: Any, schema_name: str) -> None:
    """Raise unless ``instance`` matches ``#/components/schemas/<schema_name>`` of the spec."""
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"urn:openapi#/components/schemas/{schema_name}"}, registry=_registry()
    )
    validator.validate(instance)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def thread(
    user: str = "user_1",
    created_at: int = 1_712_345_600,
    *,
    id: str | None = None,
    title: str | None = "A thread",
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": id or new_id("cthr"),
        "object": "chatkit.thread",
        "created_at": created_at,
        "title": title,
        "status": status or {"type": "active"},
        "user": user,
    }


def _head(thread_id: str, created_at: int, kind: str, id: str | None) -> dict[str, Any]:
    return {
        "id": id or new_id("cthi"),
        "object": "chatkit.thread_item",
        "created_at": created_at,
        "thread_id": thread_id,
        "type": kind,
    }


def user_message(
    thread_id: str, text: str = "hello", created_at: int = 1_712_345_601, id: str | None = None
) -> dict[str, Any]:
    return {
        **_head(thread_id, created_at, "chatkit.user_message", id),
        "content": [
            {"type": "input_text", "text": text},
            {"type": "quoted_text", "text": "quoted"},
        ],
        "attachments": [
            {
                "type": "file",
                "id": "cfile_1",
                "name": "report.pdf",
                "mime_type": "application/pdf",
                "preview_url": "https://files.example/report.png",
            }
        ],
        "inference_options": {"tool_choice": {"id": "search"}, "model": "gpt-x"},
    }


def assistant_message(
    thread_id: str, text: str = "hi there", created_at: int = 1_712_345_602, id: str | None = None
) -> dict[str, Any]:
    return {
        **_head(thread_id, created_at, "chatkit.assistant_message", id),
        "content": [
            {
                "type": "output_text",
                "text": text,
                "annotations": [
                    {"type": "url", "source": {"type": "url", "url": "https://example.com/a"}},
                    {"type": "file", "source": {"type": "file", "filename": "notes.txt"}},
                ],
            }
        ],
    }


def widget(
    thread_id: str, created_at: int = 1_712_345_603, id: str | None = None
) -> dict[str, Any]:
    return {
        **_head(thread_id, created_at, "chatkit.widget", id),
        "widget": '{"type":"Card","children":[]}',
    }


def client_tool_call(
    thread_id: str, created_at: int = 1_712_345_604, id: str | None = None
) -> dict[str, Any]:
    return {
        **_head(thread_id, created_at, "chatkit.client_tool_call", id),
        "status": "in_progress",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
        "output": None,
    }


def task(thread_id: str, created_at: int = 1_712_345_605, id: str | None = None) -> dict[str, Any]:
    return {
        **_head(thread_id, created_at, "chatkit.task", id),
        "task_type": "thought",
        "heading": "Thinking",
        "summary": "About the weather",
    }


def task_group(
    thread_id: str, created_at: int = 1_712_345_606, id: str | None = None
) -> dict[str, Any]:
    return {
        **_head(thread_id, created_at, "chatkit.task_group", id),
        "tasks": [
            {"type": "custom", "heading": "Step 1", "summary": None},
            {"type": "thought", "heading": None, "summary": "Pondering"},
        ],
    }


def all_item_types(thread_id: str) -> list[dict[str, Any]]:
    """One item of each of the six REST types, oldest first."""
    return [
        user_message(thread_id),
        assistant_message(thread_id),
        widget(thread_id),
        client_tool_call(thread_id),
        task(thread_id),
        task_group(thread_id),
    ]
