"""The bodies of the thread writes threadkit adds to the REST API (create, update, append),
checked with the hosted API's wording and codes.

Items come in the REST shapes without what the server assigns (``id``, ``object``,
``created_at``, ``thread_id``); what a type leaves out that has an obvious value (a user
message's ``attachments`` and ``inference_options``, an output text's ``annotations``)
is filled in, and the result is checked as an import checks each line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from threadkit import schemas
from threadkit.stores.records import ItemRow, item_row_from_rest

from .errors import InvalidRequest
from .sessions import MAX_USER
from .validation import json_object, required, string, type_error

#: longest title and status reason (characters)
MAX_TITLE = 1024
#: metadata as elsewhere in OpenAI's API: up to 16 keys of up to 64 characters, each
#: holding a string of up to 512
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
#: items in one request
MAX_ITEMS = 100

_ITEM: TypeAdapter[Any] = TypeAdapter(schemas.RestItem)
_ASSIGNED = ("id", "object", "created_at", "thread_id")
#: the fields a body gives for each item type, in the REST shape's order
_ITEM_KEYS = {
    shape.__annotations__["type"].__args__[0]: tuple(
        key for key in shape.__annotations__ if key not in _ASSIGNED
    )
    for shape in (
        schemas.UserMessageItem,
        schemas.AssistantMessageItem,
        schemas.WidgetItem,
        schemas.ClientToolCallItem,
        schemas.TaskItem,
        schemas.TaskGroupItem,
    )
}
_STATUS_TYPES = ("active", "locked", "closed")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: a field the body leaves out (``None`` is a value: a title cleared)
UNSET: Any = _Unset()


@dataclass(frozen=True, slots=True)
class ThreadFields:
    """What a create or an update sets; ``UNSET`` where the body says nothing."""

    title: str | None = UNSET
    status: dict[str, Any] = UNSET
    metadata: dict[str, str] = UNSET


@dataclass(frozen=True, slots=True)
class NewThread:
    user: str
    fields: ThreadFields
    #: the items, in the REST shape without the fields the server assigns
    items: list[dict[str, Any]]


def parse_new_thread(body: Any) -> NewThread:
    """``POST /v1/chatkit/threads``: ``user``, and optionally ``title``, ``status``,
    ``metadata`` and ``items``."""
    data = json_object(body, "", ("user", "title", "status", "metadata", "items"))
    user = string(required(data, "user", "user"), "user", max_length=MAX_USER)
    items = _items(data["items"], "items", allow_empty=True) if "items" in data else []
    return NewThread(user, _fields(data), items)


def parse_thread_update(body: Any) -> ThreadFields:
    """``POST /v1/chatkit/threads/{id}``: any of ``title``, ``status`` and ``metadata``."""
    return _fields(json_object(body, "", ("title", "status", "metadata")))


def parse_new_items(body: Any) -> list[dict[str, Any]]:
    """``POST /v1/chatkit/threads/{id}/items``: ``{"items": [...]}``, at least one."""
    data = json_object(body, "", ("items",))
    return _items(required(data, "items", "items"), "items", allow_empty=False)


def item_row(item: dict[str, Any], item_id: str, thread_id: str, created_us: int) -> ItemRow:
    """The row of a parsed item, with the fields the server assigns, in the REST order."""
    head = {
        "id": item_id,
        "object": "chatkit.thread_item",
        "created_at": created_us // 1_000_000,
        "thread_id": thread_id,
    }
    row = item_row_from_rest({**head, **item})
    # Ordered by the exact time (several items of one request keep theirs by insertion).
    return ItemRow(row.id, row.thread_id, created_us, row.shape, row.rest_type, row.payload)


# --- the parts -------------------------------------------------------------------------------


def _fields(data: dict[str, Any]) -> ThreadFields:
    return ThreadFields(
        title=_title(data["title"]) if "title" in data else UNSET,
        status=_status(data["status"]) if "status" in data else UNSET,
        metadata=_metadata(data["metadata"]) if "metadata" in data else UNSET,
    )


def _title(value: Any) -> str | None:
    if value is None:
        return None
    return string(value, "title", max_length=MAX_TITLE)


def _status(value: Any) -> dict[str, Any]:
    data = json_object(value, "status", ("type", "reason"))
    kind = required(data, "type", "status.type")
    if kind not in _STATUS_TYPES:
        if not isinstance(kind, str):
            raise type_error("status.type", "a string", kind)
        raise InvalidRequest(
            f"Invalid 'status.type': expected one of 'active', 'locked' or 'closed', "
            f"but got '{kind[:64]}' instead.",
            param="status.type",
            code="invalid_value",
        )
    if kind == "active":
        if "reason" in data:
            raise InvalidRequest(
                "Unknown parameter: 'status.reason' (an active thread has no reason).",
                param="status.reason",
                code="unknown_parameter",
            )
        return {"type": "active"}
    reason = data.get("reason")
    if reason is not None:
        reason = string(reason, "status.reason", max_length=MAX_TITLE)
    return {"type": kind, "reason": reason}


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise type_error("metadata", "an object", value)
    if len(value) > MAX_METADATA_KEYS:
        raise InvalidRequest(
            f"Invalid 'metadata': too many properties. Expected an object with at most "
            f"{MAX_METADATA_KEYS} properties, but got an object with {len(value)} properties "
            "instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, text in value.items():
        if len(key) > MAX_METADATA_KEY or not key or "\x00" in key:
            raise InvalidRequest(
                f"Invalid 'metadata': keys are 1 to {MAX_METADATA_KEY} characters without a "
                f"NUL character, but got a key of length {len(key)}.",
                param="metadata",
                code="invalid_key",
            )
        if not isinstance(text, str):
            raise type_error(f"metadata.{key}", "a string", text)
        if len(text) > MAX_METADATA_VALUE or "\x00" in text:
            string(text, f"metadata.{key}", max_length=MAX_METADATA_VALUE)
    return value


def _items(value: Any, path: str, *, allow_empty: bool) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise type_error(path, "an array", value)
    if not value and not allow_empty:
        raise InvalidRequest(
            f"Invalid '{path}': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.",
            param=path,
            code="empty_array",
        )
    if len(value) > MAX_ITEMS:
        raise InvalidRequest(
            f"Invalid '{path}': array too long. Expected an array with maximum length "
            f"{MAX_ITEMS}, but got an array with length {len(value)} instead.",
            param=path,
            code="array_above_max_length",
        )
    return [_item(item, f"{path}[{i}]") for i, item in enumerate(value)]


def _item(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise type_error(path, "an object", value)
    for key in _ASSIGNED:
        if key in value:
            raise InvalidRequest(
                f"Invalid '{path}.{key}': the server assigns it; leave it out.",
                param=f"{path}.{key}",
                code="unknown_parameter",
            )
    kind = required(value, "type", f"{path}.type")
    if kind not in _ITEM_KEYS:
        if not isinstance(kind, str):
            raise type_error(f"{path}.type", "a string", kind)
        listed = ", ".join(f"'{k}'" for k in _ITEM_KEYS)
        raise InvalidRequest(
            f"Invalid '{path}.type': expected one of {listed}, but got '{kind[:64]}' instead.",
            param=f"{path}.type",
            code="invalid_value",
        )
    item = _with_defaults(kind, json_object(value, path, _ITEM_KEYS[kind]))
    item = {key: item[key] for key in _ITEM_KEYS[kind] if key in item}  # the REST order
    # Checked as a whole item, with placeholders for what the server assigns.
    whole = {"id": "x", "object": "chatkit.thread_item", "created_at": 0, "thread_id": "x", **item}
    try:
        _ITEM.validate_python(whole)
    except ValidationError as exc:
        raise _invalid(exc, whole, path) from None
    return item


def _with_defaults(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    if kind == "chatkit.user_message":
        return {"attachments": [], "inference_options": None, **item}
    if kind == "chatkit.assistant_message" and isinstance(item.get("content"), list):
        content = [
            {**part, "annotations": part.get("annotations", [])} if isinstance(part, dict) else part
            for part in item["content"]
        ]
        return {**item, "content": content}
    return item


def _invalid(exc: ValidationError, data: Any, path: str) -> InvalidRequest:
    """The 400 for the first error, named by its place in the body: pydantic's location
    less the steps a tagged union adds (the tag, where the value has it as its type)."""
    first = exc.errors()[0]
    where = path
    value = data
    for part in first["loc"]:
        if isinstance(value, list) and isinstance(part, int) and part < len(value):
            where += f"[{part}]"
            value = value[part]
        elif isinstance(value, dict) and part in value:
            where += f".{part}"
            value = value[part]
        elif isinstance(value, dict) and value.get("type") == part:
            continue
        else:
            where += f".{part}"
            value = None
    return InvalidRequest(f"Invalid '{where}': {first['msg']}.", param=where, code="invalid_value")
