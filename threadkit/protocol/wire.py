"""Stored threads and items as the JSON ``ChatKitServer`` answers with, without building
the protocol models.

``ChatKitServer`` loads each stored item into its pydantic model and serializes it back
(by alias, without ``None`` fields, without the attachments' ``metadata``). For the JSON
the store already holds that round trip only drops ``None`` fields, fills defaults and
leaves out a few keys, so the same result can be had from the parsed JSON directly.
The rules are derived once from the installed ``chatkit.types`` models (their fields,
defaults and discriminated unions), not written out by hand, so a new field of a
future openai-chatkit is handled the way pydantic would handle it.

Anything these rules do not cover raises ``Unusual``; the caller then uses the models
for that item (``item_json``'s fallback) or answers the whole request the generic way.
Widgets (their own serializer) and image attachments given in the REST shape (URL
validation) always go through the models. tests/test_protocol_fast_reads.py compares
the results with ``ChatKitServer``'s for every item type and widget the tests know.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from chatkit.types import AttachmentBase, ThreadItem
from chatkit.widgets import WidgetComponentBase
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from threadkit import shapes
from threadkit.stores.records import (
    ItemRow,
    Shape,
    ThreadItemsPage,
    ThreadRow,
    ThreadsText,
    ThreadText,
)

#: item types ``ChatKitServer`` never sends to a client
HIDDEN_TYPES = frozenset({"hidden_context_item", "sdk_hidden_context"})

_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_SERIALIZE: dict[str, Any] = {
    "by_alias": True,
    "exclude_none": True,
    "context": {"exclude_metadata": True},
}


class Unusual(Exception):
    """Stored data these rules do not cover: answer it through the models."""


Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _unusual(value: Any) -> Any:
    raise Unusual


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


_MODELS: dict[type[BaseModel], Convert] = {}


def _converter(annotation: Any) -> Convert:
    """How a stored value of ``annotation`` becomes what the models would send."""
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_converter(annotation)
    if _is_union(annotation):
        return _union_converter([a for a in typing.get_args(annotation) if a is not type(None)])
    origin = typing.get_origin(annotation)
    if origin is list:
        (element,) = typing.get_args(annotation) or (Any,)
        convert = _converter(element)
        if convert is _identity:
            return _identity

        def each(value: Any) -> Any:
            if not isinstance(value, list):
                raise Unusual
            return [convert(v) for v in value]

        return each
    # Scalars, literals, datetimes and URLs as a pydantic dump wrote them, and the
    # free-form ``dict``/``Any`` fields (pydantic keeps their ``None`` values) stay as
    # they are; the stored JSON came from a dump of the same models.
    if origin in (dict, typing.Literal) or annotation in (str, int, float, bool, datetime, Any):
        return _identity
    module = getattr(annotation, "__module__", "")
    if module.startswith("pydantic") or annotation is dict:
        return _identity
    return _unusual


def _union_converter(members: list[Any]) -> Convert:
    """A union of scalars, or of models told apart by their ``type`` literal like the
    discriminated unions of ``chatkit.types``; any other union is unusual."""
    members = [_strip(m) for m in members]
    if len(members) == 1:
        return _converter(members[0])
    if all(_converter(m) is _identity for m in members):
        return _identity  # scalars only (an icon name: literals or patterned strings)
    by_type: dict[Any, Convert] = {}
    for member in members:
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            return _unusual
        field = member.model_fields.get("type")
        if field is None or typing.get_origin(_strip(field.annotation)) is not typing.Literal:
            return _unusual
        for value in typing.get_args(_strip(field.annotation)):
            by_type[value] = _converter(member)

    def dispatch(value: Any) -> Any:
        if not isinstance(value, dict):
            raise Unusual
        convert = by_type.get(value.get("type"))
        if convert is None:
            raise Unusual
        return convert(value)

    return dispatch


def _default_json(field: FieldInfo) -> Any:
    default = field.get_default(call_default_factory=True)
    if isinstance(default, BaseModel):
        return default.model_dump(mode="json", **_SERIALIZE)
    return to_jsonable_python(default)


def _model_converter(model: type[BaseModel]) -> Convert:
    if model in _MODELS:
        return _MODELS[model]
    # Registered first: models refer to themselves through their unions.
    _MODELS[model] = lambda value: convert(value)
    decorators = model.__pydantic_decorators__
    own_serializer = bool(decorators.model_serializers) and not issubclass(model, AttachmentBase)
    if (
        issubclass(model, WidgetComponentBase)
        or own_serializer
        or decorators.field_serializers
        or model.model_computed_fields
        or model.model_config.get("extra") not in (None, "ignore")
        or any(f.alias or f.serialization_alias for f in model.model_fields.values())
    ):
        _MODELS[model] = _unusual
        return _unusual
    hints = typing.get_type_hints(model, include_extras=True)
    fields: list[tuple[str, Convert, bool, Any]] = []
    for name, info in model.model_fields.items():
        required = info.is_required()
        default = None if required else _default_json(info)
        fields.append((name, _converter(hints[name]), required, default))
    drops_metadata = issubclass(model, AttachmentBase)

    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            raise Unusual
        out: dict[str, Any] = {}
        for name, sub, required, default in fields:
            if name in value:
                v = value[name]
            elif required:
                raise Unusual
            else:
                v = default
            if v is not None:
                out[name] = sub(v)
        if drops_metadata:
            out.pop("metadata", None)
        return out

    _MODELS[model] = convert
    return convert


_ITEM = _converter(ThreadItem)


# --- times ----------------------------------------------------------------------------

_TIMES: dict[Any, str] = {}


def datetime_json(value: datetime | str | int) -> str:
    """How the models write a time given as a ``datetime``, an ISO text or Unix seconds
    (cached: the same few thousand values come back on every page)."""
    text = _TIMES.get(value)
    if text is None:
        if isinstance(value, int):
            when: Any = datetime.fromtimestamp(value, UTC)
        else:
            when = value
        text = _DATETIME.dump_python(_DATETIME.validate_python(when), mode="json")
        if len(_TIMES) >= 65_536:
            _TIMES.clear()
        _TIMES[value] = text
    return text


# --- items ----------------------------------------------------------------------------


def _rest_attachment(data: dict[str, Any], thread_id: str) -> dict[str, Any]:
    if data.get("type") == "image" and data.get("preview_url"):
        raise Unusual  # the URL is validated by the model
    return {
        "id": data["id"],
        "name": data["name"],
        "mime_type": data["mime_type"],
        "thread_id": thread_id,
        "type": "file",
    }


def _rest_annotation(data: dict[str, Any]) -> dict[str, Any]:
    source = data.get("source") or {}
    if data.get("type") == "url":
        url = source.get("url", "")
        return {"type": "annotation", "source": {"title": url, "type": "url", "url": url}}
    filename = source.get("filename", "")
    return {
        "type": "annotation",
        "source": {"title": filename, "type": "file", "filename": filename},
    }


def _rest_task(kind: str, heading: str | None, summary: str | None) -> dict[str, Any]:
    if kind == "thought":
        return {"type": "thought", "title": heading, "content": summary or ""}
    return {"type": "custom", "title": heading, "content": summary}


def _rest_user_message(data: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """A REST user message as the models send it: no ``None`` field, defaults present."""
    thread_id = data["thread_id"]
    parts = data["content"]
    options = data.get("inference_options") or {}
    tool_choice = options.get("tool_choice")
    model = options.get("model")
    inference: dict[str, Any] = {}
    if tool_choice:
        inference["tool_choice"] = {"id": tool_choice["id"]}
    if model is not None:
        inference["model"] = model
    message = {
        **head,
        "type": "user_message",
        "content": [
            {"type": "input_text", "text": p["text"]}
            for p in parts
            if p.get("type") == "input_text"
        ],
        "attachments": [_rest_attachment(a, thread_id) for a in data["attachments"]],
    }
    quoted = [p["text"] for p in parts if p.get("type") == "quoted_text"]
    if quoted:
        message["quoted_text"] = "\n".join(quoted)
    message["inference_options"] = inference
    return message


def _rest_assistant_message(data: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """A REST assistant message as the models send it."""
    return {
        **head,
        "type": "assistant_message",
        "content": [
            {
                "annotations": [_rest_annotation(a) for a in part.get("annotations", [])],
                "text": part["text"],
                "type": "output_text",
            }
            for part in data["content"]
        ],
    }


def _from_rest(data: dict[str, Any]) -> Any:
    """What ``shapes.rest_item_to_protocol`` makes of a REST item, as the models' JSON
    (messages already in their final form, other items for ``_ITEM`` to finish)."""
    head = {
        "id": data["id"],
        "thread_id": data["thread_id"],
        "created_at": datetime_json(data["created_at"]),
    }
    kind = data["type"]
    if kind == "chatkit.user_message":
        message = _rest_user_message(data, head)
        return message if MESSAGES_FINAL else _ITEM(message)
    if kind == "chatkit.assistant_message":
        message = _rest_assistant_message(data, head)
        return message if MESSAGES_FINAL else _ITEM(message)
    if kind == "chatkit.client_tool_call":
        item = {
            **head,
            "type": "client_tool_call",
            "status": "completed" if data["status"] == "completed" else "pending",
            "call_id": data["call_id"],
            "name": data["name"],
            "arguments": shapes.json_object_from_text(data["arguments"]),
            "output": data.get("output"),
        }
    elif kind == "chatkit.task":
        item = {
            **head,
            "type": "task",
            "task": _rest_task(data["task_type"], data["heading"], data["summary"]),
        }
    elif kind == "chatkit.task_group":
        item = {
            **head,
            "type": "workflow",
            "workflow": {
                "type": "custom",
                "tasks": [_rest_task(t["type"], t["heading"], t["summary"]) for t in data["tasks"]],
            },
        }
    else:
        raise Unusual  # widgets (validated as widget trees) and unknown types
    return _ITEM(item)


def _messages_final() -> bool:
    """Whether the messages built by hand above are what the rules derived from the
    installed models make of them (fields and defaults unchanged); if not, they go
    through ``_ITEM`` like the other items."""
    head = {"id": "i", "thread_id": "t", "created_at": datetime_json(0)}
    full = {
        "type": "chatkit.user_message",
        "thread_id": "t",
        "content": [{"type": "input_text", "text": "a"}, {"type": "quoted_text", "text": "q"}],
        "attachments": [{"type": "file", "id": "f", "name": "n", "mime_type": "m"}],
        "inference_options": {"tool_choice": {"id": "x"}, "model": "m"},
    }
    bare = {**full, "content": [], "attachments": [], "inference_options": {}}
    assistant = {
        "content": [
            {"text": "a", "annotations": [{"type": "url", "source": {"url": "u"}}]},
            {"text": "b", "annotations": [{"type": "file", "source": {"filename": "f"}}]},
        ]
    }
    built = [
        _rest_user_message(full, head),
        _rest_user_message(bare, head),
        _rest_assistant_message(assistant, head),
    ]
    try:
        return all(_ITEM(message) == message for message in built)
    except Unusual:
        return False


MESSAGES_FINAL = _messages_final()


def converted_item_json(row: ItemRow) -> bytes | None:
    """The item as ``ChatKitServer`` sends it, ``None`` for a hidden item, from the
    stored JSON alone; ``Unusual`` (or a ``KeyError``, ``TypeError``, ``ValueError`` on
    malformed data) when that is not enough."""
    data = orjson.loads(row.payload)
    if row.shape == "protocol":
        if data.get("type") in HIDDEN_TYPES:
            return None
        return orjson.dumps(_ITEM(data))
    return orjson.dumps(_from_rest(data))


class _Memo:
    """Answers by what they are a pure function of (a changed item or page is a new
    key, never a stale answer), up to ``max_bytes`` of stored JSON (about twice that in
    memory, answers included); then it starts over. Chat UIs read the same threads
    again and again (a thread opened, the history, a reload): converting a page of 20
    items was a quarter of an ``items.list`` (docs/performance.md)."""

    def __init__(self, max_bytes: int, max_entry_bytes: int) -> None:
        self.answers: dict[Any, Any] = {}
        self.size = 0
        self.max_bytes = max_bytes
        #: larger entries (a big widget, a page of them) are converted each time
        self.max_entry_bytes = max_entry_bytes

    def keep(self, key: Any, size: int, answer: Any) -> None:
        if size > self.max_entry_bytes:
            return
        if self.size + size > self.max_bytes:
            self.answers.clear()
            self.size = 0
        self.answers[key] = answer
        self.size += size


#: ``item_json``'s answers by stored shape, then by stored JSON
_ANSWERS = {shape: _Memo(16 * 1024 * 1024, 64 * 1024) for shape in ("protocol", "rest")}
#: ``joined_items_json``'s answers by a page's joined shapes and JSON
_PAGES = _Memo(32 * 1024 * 1024, 256 * 1024)


def item_json(row: ItemRow) -> bytes | None:
    """The item as ``ChatKitServer`` sends it (``None`` for a hidden item):
    ``converted_item_json``, through the models when that cannot answer."""
    return item_text_json(row.shape, row.payload)


def item_text_json(shape: Shape, payload: str) -> bytes | None:
    """``item_json`` of a stored item given only as its shape and JSON (of which the
    answer is a pure function; the row's other columns do not enter it)."""
    memo = _ANSWERS.get(shape)
    if memo is not None:
        answer = memo.answers.get(payload, _MISSING)
        if answer is not _MISSING:
            return answer  # type: ignore[no-any-return]
    row = ItemRow(id="", thread_id="", created_us=0, shape=shape, rest_type=None, payload=payload)
    try:
        answer = converted_item_json(row)
    except (Unusual, KeyError, TypeError, AttributeError, ValueError):
        item = row.to_protocol()
        answer = None if item.type in HIDDEN_TYPES else item.model_dump_json(**_SERIALIZE).encode()
    if memo is not None:
        memo.keep(payload, len(payload), answer)
    return answer


_MISSING = object()


def joined_items_json(page: ThreadItemsPage) -> bytes:
    """The answers of a page's items joined by commas, hidden items left out: kept by
    the page's joined shapes and JSON, of which they are a pure function, so a page read
    again costs one look-up, whatever its size. A page not seen yet is made of
    ``item_text_json``'s answers (``Unusual`` when its texts do not split)."""
    key = (page.shapes, page.payloads)
    answer: bytes | None = _PAGES.answers.get(key)
    if answer is None:
        try:
            items = page.items()
        except ValueError as exc:
            raise Unusual from exc
        answers = (item_text_json(shape, payload) for shape, payload in items)
        answer = b",".join(a for a in answers if a is not None)
        _PAGES.keep(key, len(page.payloads), answer)
    return answer


# --- threads --------------------------------------------------------------------------


def _status(status: dict[str, Any]) -> dict[str, Any]:
    kind = status.get("type")
    if kind not in ("locked", "closed"):
        return {"type": "active"}
    reason = status.get("reason")
    if reason is None:
        return {"type": kind}
    if not isinstance(reason, str):
        raise Unusual
    return {"type": kind, "reason": reason}


def thread_head(row: ThreadRow) -> bytes:
    """The thread as ``ChatKitServer`` sends it, without its closing brace, for the
    caller to add ``"items"``: ``b'{"title":...,"metadata":{}'``."""
    extra = row.extra or {}
    created = extra.get("created_at")
    head: dict[str, Any] = {}
    if row.title is not None:
        head["title"] = row.title
    head["id"] = row.id
    head["created_at"] = datetime_json(
        created if created is not None else shapes.us_to_datetime(row.created_us)
    )
    head["status"] = _status(row.status)
    domains = extra.get("allowed_image_domains")
    if domains is not None:
        head["allowed_image_domains"] = domains
    head["metadata"] = {}  # the thread response leaves the thread's metadata out
    return orjson.dumps(head)[:-1]


#: thread heads by stored columns (see ``thread_text_head``); emptied when full
_HEADS: dict[ThreadText, bytes] = {}
_MAX_HEADS = 16_384
#: threads with more in their title and extra columns (metadata) are not kept
_MAX_HEAD_TEXT = 4096


def thread_text_head(text: ThreadText) -> bytes:
    """``thread_head`` of a thread given as its stored columns, kept by them: the head
    is a pure function of them, so a changed thread is a new key, never a stale head."""
    head = _HEADS.get(text)
    if head is None:
        thread_id, user, created_us, title, status, extra = text
        head = thread_head(
            ThreadRow(
                id=thread_id,
                user=user,
                created_us=created_us,
                title=title,
                status=orjson.loads(status),
                extra=orjson.loads(extra) if extra is not None else None,
            )
        )
        if len(title or "") + len(extra or "") <= _MAX_HEAD_TEXT:
            if len(_HEADS) >= _MAX_HEADS:
                _HEADS.clear()
            _HEADS[text] = head
    return head


#: ``threads_text_json``'s answers by page limit and the threads' text
_THREAD_PAGES = _Memo(16 * 1024 * 1024, 256 * 1024)


def threads_text_json(found: ThreadsText, limit: int) -> bytes:
    """The ``Page`` of threads (each with an empty page of items, as ``threads.list``
    answers) that ``found`` makes with ``limit``: kept by both, of which it is a pure
    function."""
    key = (limit, found.rows)
    answer: bytes | None = _THREAD_PAGES.answers.get(key)
    if answer is None:
        rows = orjson.loads("[" + found.rows + "]")
        has_more = len(rows) > limit
        del rows[limit:]
        after = rows[-1][0] if has_more and rows else None
        heads = [thread_text_head(tuple(row)) + _NO_ITEMS for row in rows]  # type: ignore[arg-type]
        answer = page_json(heads, has_more, after)
        _THREAD_PAGES.keep(key, len(found.rows), answer)
    return answer


def page_json(items: list[bytes], has_more: bool, after: str | None) -> bytes:
    """A ``Page`` of items (or threads) already in JSON."""
    return joined_page_json(b",".join(items), has_more, after)


def joined_page_json(joined: bytes, has_more: bool, after: str | None) -> bytes:
    """A ``Page`` of items (or threads) already in JSON and joined by commas."""
    tail = b'],"has_more":true' if has_more else b'],"has_more":false'
    if after is not None:
        tail += b',"after":' + orjson.dumps(after)
    return b'{"data":[' + joined + tail + b"}"


EMPTY_PAGE = page_json([], False, None)
_NO_ITEMS = b',"items":' + EMPTY_PAGE + b"}"
