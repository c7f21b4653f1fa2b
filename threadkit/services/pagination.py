"""The pagination rules shared by every list: limits, defaults and the list object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadkit.stores.errors import CursorNotFound

from .errors import InvalidRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def list_object(data: Sequence[Any], ids: Sequence[str], has_more: bool) -> dict[str, Any]:
    """OpenAI's list object: ``object``, ``data``, ``first_id``, ``last_id``, ``has_more``."""
    return {
        "object": "list",
        "data": data,
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
        "has_more": has_more,
    }


def cursor_error(exc: CursorNotFound, what: str) -> InvalidRequest:
    """The 400 for a cursor that names nothing in the list being paged."""
    return InvalidRequest(
        f"Invalid '{exc.param}': no {what} with id '{exc.value}' in this list.",
        param=exc.param,
        code="invalid_cursor",
    )
