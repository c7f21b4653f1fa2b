"""Query-string parsing with the hosted API's error wording and codes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.datastructures import QueryParams

from threadkit.services.errors import InvalidRequest
from threadkit.services.pagination import DEFAULT_LIMIT, MAX_LIMIT
from threadkit.services.validation import checked_string
from threadkit.stores.records import PageQuery

MAX_STRING = 512
_INTEGER = re.compile(r"[+-]?[0-9]+")


def integer(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not _INTEGER.fullmatch(text):
        raise InvalidRequest(
            f"Invalid '{name}': expected an integer, but got '{raw[:64]}' instead.",
            param=name,
            code="invalid_type",
        )
    # Many digits would make int() slow (and Python refuses past 4300): clamp instead.
    value = int(text) if len(text) <= 20 else (low - 1 if text.startswith("-") else high + 1)
    if value > high:
        raise InvalidRequest(
            f"Invalid '{name}': integer above maximum value. "
            f"Expected a value <= {high}, but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )
    if value < low:
        raise InvalidRequest(
            f"Invalid '{name}': integer below minimum value. "
            f"Expected a value >= {low}, but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    return value


def choice(query: Mapping[str, str], name: str, options: tuple[str, ...], default: str) -> str:
    raw = query.get(name)
    if raw is None:
        return default
    if raw not in options:
        listed = " or ".join(f"'{o}'" for o in options)
        raise InvalidRequest(
            f"Invalid '{name}': expected one of {listed}, but got '{raw}' instead.",
            param=name,
            code="invalid_value",
        )
    return raw


def string(query: Mapping[str, str], name: str) -> str | None:
    raw = query.get(name)
    return None if raw is None else checked_string(raw, name, max_length=MAX_STRING)


def page_query(query: Mapping[str, str]) -> PageQuery:
    """``limit`` (0..100, default 20), ``order`` (asc|desc, default desc), ``after``, ``before``."""
    return PageQuery(
        limit=integer(query, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT),
        order="asc" if choice(query, "order", ("asc", "desc"), "desc") == "asc" else "desc",
        after=string(query, "after"),
        before=string(query, "before"),
    )


def includes(query: QueryParams, options: tuple[str, ...]) -> frozenset[str]:
    """The values of every ``include`` parameter, each one of ``options``."""
    found = query.getlist("include")
    for value in found:
        choice({"include": value}, "include", options, options[0])
    return frozenset(found)
