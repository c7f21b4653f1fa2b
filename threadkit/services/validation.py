"""Checks on strings that enter threadkit, with the hosted API's wording and codes."""

from __future__ import annotations

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
