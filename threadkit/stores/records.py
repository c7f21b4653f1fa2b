"""The rows a store keeps and hands back, and their conversions from and to the
protocol models. Plain frozen dataclasses: cheap to build on every read."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import orjson
from chatkit.types import ThreadItem, ThreadMetadata

from threadkit import shapes

Order = Literal["asc", "desc"]
Shape = Literal["rest", "protocol"]


# Not frozen, the two rows every read makes many of: a frozen dataclass costs 2.2 µs to
# make against 0.8 (each field set through ``object.__setattr__``), and a page of items
# makes one per item. Treat them as read-only all the same.
@dataclass(slots=True)
class ThreadRow:
    """A stored thread. ``extra`` keeps protocol-only fields (``metadata``,
    ``allowed_image_domains``, the exact ``created_at``) so they round-trip."""

    id: str
    user: str
    created_us: int
    title: str | None
    status: dict[str, Any]
    extra: dict[str, Any] | None = None

    def to_rest(self) -> dict[str, Any]:
        return shapes.thread_to_rest(self.id, self.created_us, self.title, self.status, self.user)


@dataclass(slots=True)
class ItemRow:
    """A stored thread item: its JSON ``payload`` in the ``shape`` it arrived in.

    ``rest_type`` is the REST type it is listed under, ``None`` for items the REST
    API does not show (hidden context, end of turn, ...).
    """

    id: str
    thread_id: str
    created_us: int
    shape: Shape
    rest_type: str | None
    payload: str

    def to_rest_json(self) -> bytes:
        """The item's REST JSON (stored bytes as given when it arrived in that shape)."""
        if self.shape == "rest":
            return self.payload.encode()
        rest = shapes.protocol_item_to_rest(shapes.protocol_item_from_json(self.payload))
        rest["thread_id"] = self.thread_id  # where it is stored, whatever the item says
        return orjson.dumps(rest)

    def to_protocol(self) -> ThreadItem:
        if self.shape == "protocol":
            return shapes.protocol_item_from_json(self.payload)
        return shapes.rest_item_to_protocol(orjson.loads(self.payload))


#: a stored thread's columns as they are stored, for reads that go straight to JSON:
#: ``(id, user, created_us, title, status JSON, extra JSON or None)``
ThreadText = tuple[str, str, int, str | None, str, str | None]
#: a stored item as the protocol reads take it: ``(id, shape, payload)``
ItemText = tuple[str, Shape, str]


#: what joins a page's stored JSON (and its ids) in ``ThreadItemsPage``: a control
#: character, which a JSON text never holds unescaped
SEPARATOR = "\x1e"


@dataclass(frozen=True, slots=True)
class ThreadItemsPage:
    """A thread and a keyset page of its items (hidden ones included), read together
    (``RowStore.read_thread_items``).

    The items come as the database joined them, with no Python object per item: their
    shapes joined by ``","`` and their stored JSON by ``SEPARATOR``, in the page's
    order. ``last_id`` is the id of the page's last item (``None`` when it is empty),
    the next page's cursor when ``has_more``.
    """

    thread: ThreadText
    count: int
    shapes: str
    payloads: str
    last_id: str | None
    has_more: bool

    def items(self) -> list[tuple[Shape, str]]:
        """The ``(shape, payload)`` of each item; ``ValueError`` when the joined texts
        do not split into ``count`` of each (a value holding a separator)."""
        if not self.count:
            return []
        shapes = self.shapes.split(",")
        payloads = self.payloads.split(SEPARATOR)
        if len(shapes) != self.count or len(payloads) != self.count:
            raise ValueError("a stored value holds a separator")
        return list(zip(shapes, payloads, strict=True))  # type: ignore[arg-type]

    @classmethod
    def of_rows(
        cls, thread: ThreadText, items: Sequence[ItemText], has_more: bool
    ) -> ThreadItemsPage:
        """The page of ``(id, shape, payload)`` rows already in the page's order."""
        return cls(
            thread,
            len(items),
            ",".join(shape for _, shape, _ in items),
            SEPARATOR.join(payload for _, _, payload in items),
            items[-1][0] if items else None,
            has_more,
        )

    @classmethod
    def of_joined(
        cls,
        thread: ThreadText,
        read: int,
        joined: tuple[str | None, str | None, str | None],
        limit: int,
        backwards: bool,
    ) -> ThreadItemsPage | None:
        """The page from the ``limit + 1`` rows of a keyset walk as the database joined
        them (``read`` rows; ``joined`` their shapes, JSON and ids, in the walk's order,
        ``None`` for none). ``None`` when a value holds a separator: the caller reads
        the rows instead."""
        shapes, payloads, ids = joined
        if not read or shapes is None or payloads is None or ids is None:
            return cls(thread, 0, "", "", None, False)
        # The ids give the cursor, so they are checked here; a separator in the JSON
        # leaves more pieces than items, which ``items()`` (and so any first use of
        # the page) refuses.
        if ids.count(SEPARATOR) != read - 1:
            return None
        has_more = read > limit
        if has_more:  # the row read past the page's end
            shapes, payloads, ids = (
                shapes.rpartition(",")[0],
                payloads.rpartition(SEPARATOR)[0],
                ids.rpartition(SEPARATOR)[0],
            )
        count = min(read, limit)
        if backwards:  # read from the far end: flip into the page's order
            columns = ids.split(SEPARATOR), shapes.split(","), payloads.split(SEPARATOR)
            if len(columns[2]) != count:
                return None
            items = list(zip(*columns, strict=True))
            items.reverse()
            return cls.of_rows(thread, items, has_more)  # type: ignore[arg-type]
        return cls(thread, count, shapes, payloads, ids.rpartition(SEPARATOR)[2], has_more)


@dataclass(frozen=True, slots=True)
class ThreadsText:
    """The threads a keyset page reads, as one JSON text (``RowStore.read_threads_text``):
    ``rows`` holds each thread's ``ThreadText`` as a JSON array, the arrays joined by
    commas, in the page's order; ``read`` is how many, one more than the page's limit
    when more threads follow (that last one lies past the page's end)."""

    read: int
    rows: str


def forward_only(page: PageQuery) -> None:
    """Refuses a page with a ``before`` cursor: the reads that hand back one text walk
    forwards only (from the start or from ``after``)."""
    if page.before is not None:
        raise ValueError("this read takes no 'before' cursor")


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An API key: never the secret, only its hash and a masked hint."""

    id: str
    project: str
    hint: str
    created_at: int
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A ChatKit session: never its client secret, only the secret's hash (kept by the
    store) and a masked hint. ``workflow`` and ``configuration`` are the resolved
    objects the REST API returns; times are Unix seconds."""

    id: str
    project: str
    user: str
    secret_hint: str
    created_at: int
    expires_at: int
    workflow: dict[str, Any]
    rate_limit: int
    configuration: dict[str, Any]
    cancelled_at: int | None = None
    files_used: int = 0


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """A user's feedback on one thread item; ``seq`` orders the export (0 until stored)."""

    thread_id: str
    item_id: str
    user: str
    kind: Literal["positive", "negative"]
    created_at: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class PageQuery:
    """Keyset page request. ``after``/``before`` are ids relative to ``order``."""

    limit: int = 20
    order: Order = "desc"
    after: str | None = None
    before: str | None = None


#: a word, as both backends' search indexes cut text into words: a run of letters and digits
_WORD = re.compile(r"[^\W_]+")
#: how much of a title or a message is searched (characters)
SEARCHED_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Words to find, all of them, case-insensitively; with ``prefix`` the last one may
    be the start of a longer word (type-ahead). ``SearchQuery.of`` cuts a text into
    words the way the stores' indexes cut titles and messages."""

    words: tuple[str, ...]
    prefix: bool = False

    @classmethod
    def of(cls, text: str) -> SearchQuery:
        """The words of ``text``; the last is a prefix unless ``text`` ends after it
        (in a space or a punctuation mark)."""
        words = tuple(w.lower() for w in _WORD.findall(text))
        ends_in_word = bool(text) and _WORD.fullmatch(text[-1]) is not None
        return cls(words, prefix=bool(words) and ends_in_word)

    def matches(self, text: str) -> bool:
        """Whether one document (a title, a message's text) holds every word, cut and
        folded as the indexes do (runs of letters and digits, lower case)."""
        tokens = {t.lower() for t in _WORD.findall(text.replace("\x00", " ")[:SEARCHED_CHARS])}
        if not self.words:
            return False
        *whole, last = self.words
        if any(word not in tokens for word in whole):
            return False
        if self.prefix:
            return any(token.startswith(last) for token in tokens)
        return last in tokens


@dataclass(frozen=True, slots=True)
class SyncBatch:
    """One step of copying a thread from another ChatKit API, stored all or nothing.

    ``thread`` is the thread to insert or update (``None``: stored and unchanged),
    ``items`` the source's items to append, in its order, and ``cursor`` the id of the
    newest source item copied into the thread once this is stored (``None``: none yet).
    """

    thread_id: str
    thread: ThreadRow | None = None
    items: Sequence[ItemRow] = ()
    cursor: str | None = None


T = TypeVar("T")


@dataclass(slots=True)
class RowPage(Generic[T]):
    rows: list[T] = field(default_factory=list)
    has_more: bool = False


# --- rows from and to the protocol models ----------------------------------------------


def item_row_from_protocol(item: ThreadItem, thread_id: str | None = None) -> ItemRow:
    """A row for a protocol item, stored in ``thread_id`` (default: the item's own).

    The payload keeps the item exactly as given, its ``thread_id`` field included:
    ``Store.add_thread_item`` names the thread separately, and what is loaded back
    must equal what was added."""
    return ItemRow(
        id=item.id,
        thread_id=thread_id or item.thread_id,
        created_us=shapes.datetime_to_us(item.created_at),
        shape="protocol",
        rest_type=shapes.rest_type_of(item),
        payload=shapes.protocol_item_to_json(item),
    )


def searched_text(payload: str) -> str:
    """The text of a stored user or assistant message that search looks at: its quoted
    text and its content parts' text (the SQL of both backends' migrations says the same)."""
    data = orjson.loads(payload)
    texts: list[str] = []
    quoted = data.get("quoted_text")
    if isinstance(quoted, str):
        texts.append(quoted)
    content = data.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return " ".join(texts)


def item_row_from_rest(data: dict[str, Any]) -> ItemRow:
    """A row for an item given in the REST shape; ``data`` keeps its key order."""
    return ItemRow(
        id=data["id"],
        thread_id=data["thread_id"],
        created_us=data["created_at"] * 1_000_000,
        shape="rest",
        rest_type=data["type"],
        payload=orjson.dumps(data).decode(),
    )


def thread_row_from_metadata(thread: ThreadMetadata, user: str) -> ThreadRow:
    extra: dict[str, Any] = {"created_at": thread.created_at.isoformat()}
    if thread.allowed_image_domains is not None:
        extra["allowed_image_domains"] = thread.allowed_image_domains
    if thread.metadata:
        extra["metadata"] = thread.metadata
    return ThreadRow(
        id=thread.id,
        user=user,
        created_us=shapes.datetime_to_us(thread.created_at),
        title=thread.title,
        status=thread.status.model_dump(),
        extra=extra,
    )


def thread_row_to_metadata(row: ThreadRow) -> ThreadMetadata:
    extra = row.extra or {}
    created = extra.get("created_at")
    return ThreadMetadata(
        id=row.id,
        title=row.title,
        created_at=created if created is not None else shapes.us_to_datetime(row.created_us),
        status=shapes.status_from_rest(row.status),
        allowed_image_domains=extra.get("allowed_image_domains"),
        metadata=extra.get("metadata") or {},
    )
