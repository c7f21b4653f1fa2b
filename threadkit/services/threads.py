"""Thread retrieval, listing and deletion, scoped to a project."""

from __future__ import annotations

from typing import Any

import orjson

from threadkit.attachments import FileStorage
from threadkit.stores import ThreadStore
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import PageQuery

from .errors import NotFound
from .pagination import DEFAULT_LIMIT, cursor_error, list_object


def thread_not_found(thread_id: str) -> NotFound:
    return NotFound(f"No thread found with id '{thread_id}'.")


class ThreadService:
    """What the REST API does with threads. Responses are JSON-ready dicts; item
    payloads are embedded as pre-serialized fragments, never re-encoded."""

    def __init__(self, store: ThreadStore, files: FileStorage | None = None) -> None:
        self.store = store
        #: where attachment bytes live: deleting a thread removes its attachments' bytes
        self.files = files

    async def retrieve(
        self, project: str, thread_id: str, *, include_items: bool = False
    ) -> dict[str, Any]:
        row = await self.store.get_thread(project, thread_id)
        if row is None:
            raise thread_not_found(thread_id)
        thread = row.to_rest()
        if include_items:
            page = await self.store.list_items(
                project, thread_id, PageQuery(limit=DEFAULT_LIMIT, order="asc"), rest_only=True
            )
            thread["items"] = list_object(
                [orjson.Fragment(r.to_rest_json()) for r in page.rows],
                [r.id for r in page.rows],
                page.has_more,
            )
        return thread

    async def list(self, project: str, page: PageQuery, user: str | None) -> dict[str, Any]:
        try:
            result = await self.store.list_threads(project, page, user)
        except CursorNotFound as exc:
            raise cursor_error(exc, "thread") from exc
        return list_object(
            [row.to_rest() for row in result.rows], [r.id for r in result.rows], result.has_more
        )

    async def delete(self, project: str, thread_id: str) -> dict[str, Any]:
        attachment_ids = (
            await self.store.list_thread_attachments(project, thread_id) if self.files else []
        )
        if not await self.store.delete_thread_row(project, thread_id):
            raise thread_not_found(thread_id)
        if self.files and attachment_ids:
            # After the rows: a failure here leaves stray bytes, never dangling records.
            await self.files.delete(project, attachment_ids)
        return {"id": thread_id, "object": "chatkit.thread.deleted", "deleted": True}
