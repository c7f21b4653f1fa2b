"""A ``POST /chatkit`` body as the typed protocol request (``chatkit.types.ChatKitReq``)."""

from __future__ import annotations

from typing import Any, get_args

import orjson
from chatkit.types import ChatKitReq
from pydantic import TypeAdapter, ValidationError

from threadkit.services.errors import InvalidRequest

_REQUEST: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)
#: the protocol's request types, ``"threads.create"`` ...
REQUEST_TYPES: tuple[str, ...] = tuple(
    cls.model_fields["type"].default for cls in get_args(get_args(ChatKitReq)[0])
)


def _location(loc: tuple[Any, ...]) -> str:
    # pydantic names the union member (the request type) first: drop it.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in REQUEST_TYPES else [str(p) for p in loc]
    return ".".join(parts) or "body"


def decode_body(body: bytes) -> Any:
    """The body's JSON value, or ``InvalidRequest`` when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"We could not parse the JSON body of your request ({exc}). "
            "POST /chatkit expects a JSON object {type, params, metadata}.",
            code="invalid_json",
        ) from None


def parse_request(body: bytes) -> ChatKitReq:
    """The typed protocol request, validated once, or ``InvalidRequest`` naming what is
    wrong: the JSON, the shape, the type or the first invalid parameter."""
    return request_from(decode_body(body))


def request_from(data: Any) -> ChatKitReq:
    """``parse_request`` for a body already decoded (``decode_body``)."""
    if not isinstance(data, dict):
        raise InvalidRequest(
            "Invalid request body: expected a JSON object {type, params, metadata}.",
            code="invalid_type",
        )
    if "type" not in data:
        raise InvalidRequest(
            "Missing required parameter: 'type'.", param="type", code="missing_required_parameter"
        )
    kind = data["type"]
    if kind not in REQUEST_TYPES:
        raise InvalidRequest(
            f"Invalid 'type': unknown request type {str(kind)[:100]!r}. "
            f"Expected one of: {', '.join(REQUEST_TYPES)}.",
            param="type",
            code="invalid_value",
        )
    try:
        return _REQUEST.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _location(tuple(first["loc"]))
        if first["type"] == "missing":
            raise InvalidRequest(
                f"Missing required parameter: '{where}'.",
                param=where,
                code="missing_required_parameter",
            ) from None
        raise InvalidRequest(
            f"Invalid '{where}': {first['msg']}.", param=where, code="invalid_value"
        ) from None
