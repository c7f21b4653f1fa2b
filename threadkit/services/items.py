"""Listing a thread's items in their REST shape, scoped to a project."""

from __future__ import annotations

from typing import Any

import orjson

from threadkit.stores import ThreadStore
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import PageQuery

from .pagination import cursor_error, list_object
from .threads import thread_not_found


class ItemService:
    def __init__(self, store: ThreadStore) -> None:
        self.store = store

    async def list(self, project: str, thread_id: str, page: PageQuery) -> dict[str, Any]:
        if await self.store.get_thread(project, thread_id) is None:
            raise thread_not_found(thread_id)
        try:
            result = await self.store.list_items(project, thread_id, page, rest_only=True)
        except CursorNotFound as exc:
            raise cursor_error(exc, "item") from exc
        return list_object(
            [orjson.Fragment(r.to_rest_json()) for r in result.rows],
            [r.id for r in result.rows],
            result.has_more,
        )
