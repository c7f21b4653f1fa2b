"""Thread writes threadkit adds to the REST API: create a thread (with its first items),
update its title, status and metadata, append items, delete an item. Scoped to a
project; another project's thread is as missing as one that never was.

What is written is at once what the ChatKit protocol reads (the same rows): a thread
locked or closed here refuses new input there, and appended items are in its
``items.list``. Appending is an operator's act, so it is allowed whatever the status.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from threadkit import ids
from threadkit.stores import ThreadStore
from threadkit.stores.records import ThreadRow

from .errors import NotFound
from .pagination import list_object
from .thread_input import (
    UNSET,
    ThreadFields,
    item_row,
    parse_new_items,
    parse_new_thread,
    parse_thread_update,
)
from .threads import thread_not_found, thread_object


class ThreadWrites:
    def __init__(self, store: ThreadStore) -> None:
        self.store = store

    async def create(
        self, project: str, body: Any, *, include_metadata: bool = False
    ) -> dict[str, Any]:
        """A new thread for ``body["user"]`` and its first items, in order, stored at once."""
        new = parse_new_thread(body)
        now = _now_us()
        fields = new.fields
        status = {"type": "active"} if fields.status is UNSET else fields.status
        row = ThreadRow(
            id=ids.new_thread_id(),
            user=new.user,
            created_us=now,
            title=None if fields.title is UNSET else fields.title,
            status=status,
            extra=_extra(None, fields),
        )
        items = [item_row(i, ids.new_item_id(), row.id, now) for i in new.items]
        await self.store.create_thread(project, row, items)
        return thread_object(row, include_metadata=include_metadata)

    async def update(
        self, project: str, thread_id: str, body: Any, *, include_metadata: bool = False
    ) -> dict[str, Any]:
        """The thread with the title, status and metadata the body gives."""
        fields = parse_thread_update(body)
        row = await self.store.get_thread(project, thread_id)
        if row is None:
            raise thread_not_found(thread_id)
        changed = ThreadRow(
            id=row.id,
            user=row.user,
            created_us=row.created_us,
            title=row.title if fields.title is UNSET else fields.title,
            status=row.status if fields.status is UNSET else fields.status,
            extra=_extra(row.extra, fields),
        )
        if changed != row and not await self.store.replace_thread(project, changed):
            raise thread_not_found(thread_id)  # deleted meanwhile
        return thread_object(changed, include_metadata=include_metadata)

    async def append(self, project: str, thread_id: str, body: Any) -> dict[str, Any]:
        """The body's items appended to the thread, as a list object of what was stored."""
        parsed = parse_new_items(body)
        now = _now_us()
        rows = [item_row(i, ids.new_item_id(), thread_id, now) for i in parsed]
        if not await self.store.append_items(project, thread_id, rows):
            raise thread_not_found(thread_id)
        return list_object(
            [orjson.Fragment(r.to_rest_json()) for r in rows], [r.id for r in rows], False
        )

    async def delete_item(self, project: str, thread_id: str, item_id: str) -> dict[str, Any]:
        if await self.store.get_thread(project, thread_id) is None:
            raise thread_not_found(thread_id)
        if not await self.store.delete_item(project, thread_id, item_id):
            raise NotFound(f"No item found with id '{item_id}' in thread '{thread_id}'.")
        return {"id": item_id, "object": "chatkit.thread_item.deleted", "deleted": True}


def _now_us() -> int:
    return time.time_ns() // 1_000


def _extra(extra: dict[str, Any] | None, fields: ThreadFields) -> dict[str, Any] | None:
    """The thread's protocol-only fields with the metadata the body sets (none: removed)."""
    if fields.metadata is UNSET:
        return extra
    kept = {k: v for k, v in (extra or {}).items() if k != "metadata"}
    if fields.metadata:
        kept["metadata"] = fields.metadata
    return kept or None
