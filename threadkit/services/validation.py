"""Checks on what enters threadkit (strings, and the values of JSON bodies), with the
hosted API's wording and codes. ``path`` names a value of a body by its dotted path."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from .errors import InvalidRequest


def checked_string(value: str, name: str, *, max_length: int | None = None) -> str:
    """``value`` if it is non-empty, free of NUL characters and at most ``max_length`` long.

    NUL is refused everywhere: PostgreSQL text cannot hold it, and both backends must
    answer the same.
    """
    if value == "":
        raise InvalidRequest(
            f"Invalid '{name}': empty string. Expected a string with minimum length 1, "
            "but got an empty string instead.",
            param=name,
            code="empty_string",
        )
    if max_length is not None and len(value) > max_length:
        raise InvalidRequest(
            f"Invalid '{name}': string too long. Expected a string with maximum length "
            f"{max_length}, but got a string with length {len(value)} instead.",
            param=name,
            code="string_above_max_length",
        )
    if "\x00" in value:
        raise InvalidRequest(
            f"Invalid '{name}': the string contains a NUL character.",
            param=name,
            code="invalid_value",
        )
    return value


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def type_error(path: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid type for '{path}': expected {expected}, but got {kind_of(value)} instead.",
        param=path,
        code="invalid_type",
    )


def json_object(value: Any, path: str, known: Collection[str]) -> dict[str, Any]:
    """``value`` as an object with only ``known`` keys; ``path`` ``""`` is the body."""
    if not isinstance(value, dict):
        if not path:
            raise InvalidRequest(
                f"Invalid request body: expected a JSON object, but got {kind_of(value)} instead.",
                code="invalid_type",
            )
        raise type_error(path, "an object", value)
    for key in value:
        if key not in known:
            where = f"{path}.{key}" if path else str(key)
            raise InvalidRequest(
                f"Unknown parameter: '{where}'.", param=where, code="unknown_parameter"
            )
    return value


def required(data: dict[str, Any], key: str, path: str) -> Any:
    if key not in data:
        raise InvalidRequest(
            f"Missing required parameter: '{path}'.", param=path, code="missing_required_parameter"
        )
    return data[key]


def string(value: Any, path: str, *, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise type_error(path, "a string", value)
    return checked_string(value, path, max_length=max_length)


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise type_error(path, "a boolean", value)
    return value


def integer(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(path, "an integer", value)
    if value > high:
        raise InvalidRequest(
            f"Invalid '{path}': integer above maximum value. "
            f"Expected a value <= {high}, but got {value} instead.",
            param=path,
            code="integer_above_max_value",
        )
    if value < low:
        raise InvalidRequest(
            f"Invalid '{path}': integer below minimum value. "
            f"Expected a value >= {low}, but got {value} instead.",
            param=path,
            code="integer_below_min_value",
        )
    return value


def optional(
    data: dict[str, Any], key: str, path: str, parse: Callable[[Any, str], Any], default: Any
) -> Any:
    return parse(data[key], f"{path}.{key}") if key in data else default
