"""The keyset walk both SQL backends page with, over one total order (created_us, seq).

``after`` bounds a page on the side the order travels from, ``before`` on the side it
travels to. With ``before`` alone the page is the one immediately preceding it: the
query reads backwards from ``before`` and the rows are flipped afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from .records import Order

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Walk:
    """How to read one page: the comparisons bounding it and the direction of travel."""

    #: ``">"`` or ``"<"``: how a row compares with the ``after`` cursor's position
    after_op: str
    #: how a row compares with the ``before`` cursor's position
    before_op: str
    #: ``"ASC"`` or ``"DESC"``, for both order columns
    direction: str
    #: whether the rows read must be flipped into the requested order
    backwards: bool


def walk(order: Order, after: bool, before: bool) -> Walk:
    """The walk for a page in ``order`` with the given cursors present."""
    forward = order == "asc"
    backwards = before and not after
    return Walk(
        after_op=">" if forward else "<",
        before_op="<" if forward else ">",
        direction="ASC" if forward != backwards else "DESC",
        backwards=backwards,
    )


def finish(rows: list[R], limit: int, backwards: bool) -> tuple[list[R], bool]:
    """The page from ``limit + 1`` rows read, and whether more lie beyond it."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    return rows, has_more


def bounds(w: Walk, after: Any, before: Any) -> list[tuple[str, str, Any]]:
    """``(name, operator, cursor)`` for each cursor given, ``after`` first."""
    found = []
    if after is not None:
        found.append(("after", w.after_op, after))
    if before is not None:
        found.append(("before", w.before_op, before))
    return found
