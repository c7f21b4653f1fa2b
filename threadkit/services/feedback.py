"""Feedback on thread items (``items.feedback``): stored per user and item, read per
thread (``GET /v1/chatkit/threads/{thread_id}/feedback``), exported as JSON Lines
(``threadkit feedback export``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import orjson

from threadkit.stores import ThreadStore
from threadkit.stores.records import FeedbackRow

from .errors import InvalidRequest, NotFound
from .threads import thread_not_found

_PAGE = 500
MAX_ITEMS = 100


class FeedbackService:
    def __init__(self, store: ThreadStore) -> None:
        self.store = store

    async def record(
        self,
        project: str,
        user: str,
        thread_id: str,
        item_ids: Sequence[str],
        kind: Literal["positive", "negative"],
    ) -> None:
        """Store ``kind`` for each item of the user's thread; unknown ids are a 404 and
        nothing is stored."""
        thread = await self.store.get_thread(project, thread_id)
        if thread is None or thread.user != user:
            raise thread_not_found(thread_id)
        if not item_ids:
            raise InvalidRequest(
                "Invalid 'params.item_ids': expected at least one item id.",
                param="params.item_ids",
                code="empty_array",
            )
        if len(item_ids) > MAX_ITEMS:
            raise InvalidRequest(
                f"Invalid 'params.item_ids': at most {MAX_ITEMS} items per request.",
                param="params.item_ids",
                code="array_above_max_length",
            )
        for item_id in item_ids:
            if await self.store.get_item(project, thread_id, item_id) is None:
                raise NotFound(f"No item found with id '{item_id}' in thread '{thread_id}'.")
        now = int(time.time())
        rows = [
            FeedbackRow(thread_id, item_id, user, kind, now) for item_id in dict.fromkeys(item_ids)
        ]
        await self.store.put_feedback(project, rows)

    async def of_thread(self, project: str, thread_id: str) -> dict[str, Any]:
        """Every feedback on the thread's items, oldest first, as a list object; another
        project's thread is a 404 like a missing one."""
        if await self.store.get_thread(project, thread_id) is None:
            raise thread_not_found(thread_id)
        rows = await self.store.list_thread_feedback(project, thread_id)
        return {"object": "list", "data": [feedback_object(r) for r in rows], "has_more": False}


def feedback_object(row: FeedbackRow) -> dict[str, Any]:
    return {
        "object": "chatkit.feedback",
        "thread_id": row.thread_id,
        "item_id": row.item_id,
        "user": row.user,
        "kind": row.kind,
        "created_at": row.created_at,
    }


async def export_feedback(
    store: ThreadStore, project: str, user: str | None = None
) -> AsyncIterator[bytes]:
    """One JSON line per feedback of the project (of ``user``), oldest first."""
    after = 0
    while True:
        rows = await store.list_feedback(project, user=user, after=after, limit=_PAGE)
        for row in rows:
            yield orjson.dumps(feedback_object(row)) + b"\n"
        if len(rows) < _PAGE:
            return
        after = rows[-1].seq
