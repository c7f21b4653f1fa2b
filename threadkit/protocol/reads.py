"""``threads.get_by_id``, ``items.list`` and ``threads.list`` answered from the store's
rows, without the protocol models.

These three reads are most of what a chat UI sends. The generic path validates the
body against the whole request union, loads every stored item into its model and
serializes it back; here the body gets a small check of its own and the answer is
spliced from the rows' JSON (``wire``). What these requests can hold beyond the
plain cases (unknown keys, odd limits, errors, history-limited sessions) returns
``None``, and the caller answers the generic way, so every refusal and every error
message stays exactly the generic path's. tests/test_protocol_fast_reads.py compares
the two paths' answers.
"""

from __future__ import annotations

from typing import Any, Protocol

from threadkit.stores import ThreadStore
from threadkit.stores.errors import CursorNotFound
from threadkit.stores.records import PageQuery

from .wire import (
    Unusual,
    joined_items_json,
    joined_page_json,
    thread_text_head,
    threads_text_json,
)

#: ``ChatKitServer``'s page size when a request names none (or 0)
DEFAULT_PAGE = 20
#: larger pages are left to the generic path, which passes them to the store as they are
MAX_FAST_LIMIT = 100

_FIRST_PAGE = PageQuery(limit=DEFAULT_PAGE, order="asc")

_TOP_KEYS = frozenset({"type", "params", "metadata"})
_THREAD_KEYS = frozenset({"thread_id"})
_ITEMS_KEYS = frozenset({"thread_id", "limit", "order", "after"})
_LIST_KEYS = frozenset({"limit", "order", "after"})


class Reader(Protocol):
    """Who reads: a ``ChatContext``, or the caller the endpoint has before making one."""

    @property
    def project(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def configuration(self) -> dict[str, Any]: ...


class _Decline(Exception):
    """Not a plain read: the generic path answers."""


def _limit(params: dict[str, Any]) -> int:
    limit = params.get("limit")
    if limit is None or (limit == 0 and type(limit) is int):
        return DEFAULT_PAGE
    if type(limit) is not int or not 0 < limit <= MAX_FAST_LIMIT:
        raise _Decline
    return limit


def _order(params: dict[str, Any]) -> str:
    order = params.get("order", "desc")
    if order != "asc" and order != "desc":
        raise _Decline
    return order


def _after(params: dict[str, Any]) -> str | None:
    after = params.get("after")
    if after is not None and type(after) is not str:
        raise _Decline
    return after


def _thread_id(params: dict[str, Any]) -> str:
    thread_id = params.get("thread_id")
    if type(thread_id) is not str:
        raise _Decline
    return thread_id


def _params(data: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    if not _TOP_KEYS.issuperset(data):
        raise _Decline
    metadata = data.get("metadata")
    if metadata is not None and type(metadata) is not dict:
        raise _Decline
    params = data.get("params")
    if type(params) is not dict or not known.issuperset(params):
        raise _Decline
    return params


def _history_limited(context: Reader) -> bool:
    history = context.configuration["history"]
    return not history["enabled"] or history["recent_threads"] is not None


class FastReads:
    """Answers the plain reads of a validated caller (``answer``)."""

    def __init__(self, store: ThreadStore) -> None:
        self.store = store

    async def answer(self, data: Any, context: Reader) -> bytes | None:
        """The JSON answer to the decoded body ``data``, or ``None`` when the generic
        path must answer it."""
        if type(data) is not dict:
            return None
        kind = data.get("type")
        try:
            if kind == "threads.get_by_id":
                return await self._thread(_thread_id(_params(data, _THREAD_KEYS)), context)
            if kind == "items.list":
                params = _params(data, _ITEMS_KEYS)
                return await self._items(
                    _thread_id(params), _limit(params), _order(params), _after(params), context
                )
            if kind == "threads.list":
                if _history_limited(context):
                    return None
                params = _params(data, _LIST_KEYS)
                return await self._threads(_limit(params), _order(params), _after(params), context)
        except (_Decline, Unusual, CursorNotFound):
            return None
        return None

    async def _page(self, thread_id: str, query: PageQuery, context: Reader) -> tuple[bytes, bytes]:
        """The thread's head and the JSON page of its items, from one store read."""
        found = await self.store.read_thread_items(context.project, thread_id, query)
        if found is None or found.thread[1] != context.user_id:
            raise _Decline  # the generic path words the 404
        # The cursor is the last stored item, hidden or not, as in ``ThreadStore``.
        after = found.last_id if found.has_more else None
        return thread_text_head(found.thread), joined_page_json(
            joined_items_json(found), found.has_more, after
        )

    async def _thread(self, thread_id: str, context: Reader) -> bytes | None:
        head, page = await self._page(thread_id, _FIRST_PAGE, context)
        return head + b',"items":' + page + b"}"

    async def _items(
        self, thread_id: str, limit: int, order: str, after: str | None, context: Reader
    ) -> bytes | None:
        query = PageQuery(limit=limit, order="asc" if order == "asc" else "desc", after=after)
        return (await self._page(thread_id, query, context))[1]

    async def _threads(
        self, limit: int, order: str, after: str | None, context: Reader
    ) -> bytes | None:
        query = PageQuery(limit=limit, order="asc" if order == "asc" else "desc", after=after)
        found = await self.store.read_threads_text(context.project, query, user=context.user_id)
        return threads_text_json(found, limit)
