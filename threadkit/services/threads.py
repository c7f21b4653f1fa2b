"""Thread retrieval, listing and deletion, scoped to a project."""

from __future__ import annotations

from typing import Any

import orjson

from threadkit.attachments import FileStorage
from threadkit.stores import ThreadStore
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import PageQuery, SearchQuery, ThreadRow

from .errors import InvalidRequest, NotFound
from .pagination import DEFAULT_LIMIT, cursor_error, list_object

#: most words a search may hold
MAX_SEARCH_WORDS = 32


def thread_not_found(thread_id: str) -> NotFound:
    return NotFound(f"No thread found with id '{thread_id}'.")


def thread_object(row: ThreadRow, *, include_metadata: bool = False) -> dict[str, Any]:
    """The ``chatkit.thread`` REST object; with ``include_metadata``, also the thread's
    ``metadata`` (a threadkit extension: without it, exactly the hosted shape)."""
    thread = row.to_rest()
    if include_metadata:
        thread["metadata"] = (row.extra or {}).get("metadata") or {}
    return thread


def search_query(text: str) -> SearchQuery:
    """The words of a ``q`` parameter (at most ``MAX_SEARCH_WORDS``)."""
    search = SearchQuery.of(text)
    if len(search.words) > MAX_SEARCH_WORDS:
        raise InvalidRequest(
            f"Invalid 'q': too many words. Expected at most {MAX_SEARCH_WORDS} words, but got "
            f"{len(search.words)} instead.",
            param="q",
            code="invalid_value",
        )
    return search


class ThreadService:
    """What the REST API does with threads. Responses are JSON-ready dicts; item
    payloads are embedded as pre-serialized fragments, never re-encoded."""

    def __init__(self, store: ThreadStore, files: FileStorage | None = None) -> None:
        self.store = store
        #: where attachment bytes live: deleting a thread removes its attachments' bytes
        self.files = files

    async def retrieve(
        self,
        project: str,
        thread_id: str,
        *,
        include_items: bool = False,
        include_metadata: bool = False,
    ) -> dict[str, Any]:
        row = await self.store.get_thread(project, thread_id)
        if row is None:
            raise thread_not_found(thread_id)
        thread = (
            row.to_rest() if not include_metadata else thread_object(row, include_metadata=True)
        )
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

    async def list(
        self,
        project: str,
        page: PageQuery,
        user: str | None,
        *,
        q: str | None = None,
        include_metadata: bool = False,
    ) -> dict[str, Any]:
        """A page of the project's threads (of ``user``); with ``q``, of those a full-text
        search finds (``ThreadStore.search_threads``)."""
        try:
            if q is None:
                result = await self.store.list_threads(project, page, user)
            else:
                result = await self.store.search_threads(project, search_query(q), page, user)
        except CursorNotFound as exc:
            raise cursor_error(exc, "thread") from exc
        if include_metadata:
            data = [thread_object(row, include_metadata=True) for row in result.rows]
        else:
            data = [row.to_rest() for row in result.rows]
        return list_object(data, [r.id for r in result.rows], result.has_more)

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
