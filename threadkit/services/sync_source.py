"""The source of ``threadkit sync``: a ChatKit REST API read through the official SDK.

Pages come back as the raw JSON objects of the response (parsed with their keys in
order), never through the SDK's models, so a copy stores every field the source sent,
also ones the SDK does not know. Retries (429, 5xx, connection failures, honouring
``retry-after``) are the SDK's own, set on the client.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import openai
import orjson
from openai import Omit, omit

#: elements per page: the most the API gives
PAGE = 100


class SyncFailed(Exception):
    """The source failed in a way retrying does not fix; what was copied stays consistent."""


class CursorUnknown(Exception):
    """The source does not know the ``after`` cursor (its element was deleted there)."""


@dataclass(frozen=True, slots=True)
class SourcePage:
    objects: list[dict[str, Any]]
    has_more: bool

    @property
    def last_id(self) -> str | None:
        return self.objects[-1]["id"] if self.objects else None


class Source:
    """Pages of threads and items, oldest first, from ``client`` (``user``: only theirs)."""

    def __init__(self, client: openai.AsyncOpenAI, user: str | None = None) -> None:
        self.client = client
        self.user = user

    @property
    def identity(self) -> str:
        """What names the source in the sync state: its base URL."""
        return str(self.client.base_url).rstrip("/")

    async def threads(self, after: str | None) -> SourcePage:
        """A page of threads after the thread ``after`` (``CursorUnknown`` if it is gone)."""
        call = self.client.beta.chatkit.threads.with_raw_response.list(
            order="asc", limit=PAGE, after=_given(after), user=_given(self.user)
        )
        try:
            return await self._page("listing threads", call)
        except _Missing as exc:  # the path is wrong: no such API there
            raise SyncFailed(f"{exc}; {self._url_hint()}") from None

    async def items(self, thread_id: str, after: str | None) -> SourcePage | None:
        """A page of a thread's items after the item ``after``; ``None`` when the thread
        is gone (deleted at the source since it was listed)."""
        call = self.client.beta.chatkit.threads.with_raw_response.list_items(
            thread_id, order="asc", limit=PAGE, after=_given(after)
        )
        try:
            return await self._page(f"listing the items of thread '{thread_id}'", call)
        except _Missing:
            return None

    async def _page(self, what: str, call: Awaitable[Any]) -> SourcePage:
        try:
            raw = await call
        except openai.BadRequestError as exc:
            if exc.param == "after":
                raise CursorUnknown(str(exc)) from None
            raise _failed(what, exc) from None
        except openai.NotFoundError as exc:
            raise _Missing(str(_failed(what, exc))) from None
        except openai.APIStatusError as exc:
            raise _failed(what, exc) from None
        except openai.APIConnectionError as exc:
            detail = exc.message.rstrip(".") + (f": {exc.__cause__}" if exc.__cause__ else "")
            raise SyncFailed(
                f"{what}: cannot reach the source at {self.identity} ({detail})"
            ) from None
        try:
            body = orjson.loads(raw.content)
            objects, has_more = body["data"], body["has_more"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            raise SyncFailed(
                f"{what}: the source's answer is not a list object; {self._url_hint()}"
            ) from None
        if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
            raise SyncFailed(f"{what}: the source's 'data' is not a list of objects")
        return SourcePage(objects, bool(has_more))

    def _url_hint(self) -> str:
        return (
            f"check that {self.identity} is the API's base URL, such as https://api.openai.com/v1"
        )


class _Missing(SyncFailed):
    """A 404."""


def _given(value: str | None) -> str | Omit:
    return omit if value is None else value


def _failed(what: str, exc: openai.APIStatusError) -> SyncFailed:
    message = exc.body.get("message") if isinstance(exc.body, dict) else None
    detail = f" ({message})" if message else ""
    request = f" [request id {exc.request_id}]" if exc.request_id else ""
    return SyncFailed(f"{what}: the source answered {exc.status_code}{detail}{request}")
