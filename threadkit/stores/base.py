"""The store interface every backend implements.

A store is two things at once:

* a ``chatkit.store.Store`` (plus the attachment-metadata methods), so anyone
  writing their own ``ChatKitServer`` can use it directly. The request context is
  any object with a ``user_id`` attribute; an optional ``project`` attribute scopes
  it to a project (``"default"`` otherwise). Threads are isolated per ``user_id``.
* the queries the REST API and the operators' tools need, scoped by project
  but not by user: keyset pages in both directions, user filters, cascade delete,
  bulk import, API keys.

Backends implement the abstract row-level methods; the protocol methods are
built on them here, once, so every backend behaves the same.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import AsyncIterator, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import orjson
from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import (
    Attachment,
    Page,
    ThreadItem,
    ThreadMetadata,
)
from pydantic import TypeAdapter

from threadkit import ids, shapes
from threadkit.stores.errors import CursorNotFound as CursorNotFound
from threadkit.stores.errors import DuplicateId as DuplicateId
from threadkit.stores.errors import StoreUnavailable as StoreUnavailable

DEFAULT_PROJECT = "default"
Order = Literal["asc", "desc"]
Shape = Literal["rest", "protocol"]

_ATTACHMENT: TypeAdapter[Any] = TypeAdapter(Attachment)


# --- rows -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
        return orjson.dumps(rest)

    def to_protocol(self) -> ThreadItem:
        if self.shape == "protocol":
            return shapes.protocol_item_from_json(self.payload)
        return shapes.rest_item_to_protocol(orjson.loads(self.payload))


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


T = TypeVar("T")


@dataclass(slots=True)
class RowPage(Generic[T]):
    rows: list[T] = field(default_factory=list)
    has_more: bool = False


# --- helpers shared by backends ---------------------------------------------------------


def item_row_from_protocol(item: ThreadItem) -> ItemRow:
    return ItemRow(
        id=item.id,
        thread_id=item.thread_id,
        created_us=shapes.datetime_to_us(item.created_at),
        shape="protocol",
        rest_type=shapes.rest_type_of(item),
        payload=shapes.protocol_item_to_json(item),
    )


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


def project_of(context: Any) -> str:
    return getattr(context, "project", None) or DEFAULT_PROJECT


def user_of(context: Any) -> str:
    user = getattr(context, "user_id", None)
    if not user:
        raise ValueError("the store context needs a non-empty user_id attribute")
    return str(user)


# --- the interface ----------------------------------------------------------------------


class BulkImport(abc.ABC):
    """The open side of ``ThreadStore.bulk_import``: rows go in batch by batch."""

    @abc.abstractmethod
    async def add(self, threads: Sequence[ThreadRow], items: Sequence[ItemRow]) -> None:
        """Add one batch; may raise ``DuplicateId`` for it or for an earlier batch."""


class _BufferedImport(BulkImport):
    def __init__(self) -> None:
        self.threads: list[ThreadRow] = []
        self.items: list[ItemRow] = []

    async def add(self, threads: Sequence[ThreadRow], items: Sequence[ItemRow]) -> None:
        self.threads.extend(threads)
        self.items.extend(items)


class ThreadStore(Store[Any], abc.ABC):
    """Base class of threadkit's stores (see the module docstring)."""

    #: short name of the backend, e.g. ``"sqlite"``
    backend: str = ""

    #: the migrations this store has applied (``"0003_list_indexes"``), oldest first;
    #: empty when the schema was already current
    migrations_applied: tuple[str, ...] = ()

    # -- lifecycle --

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The schema version recorded in the database (0 for an empty one)."""

    # -- threads (project-scoped) --

    @abc.abstractmethod
    async def get_thread(self, project: str, thread_id: str) -> ThreadRow | None: ...

    @abc.abstractmethod
    async def list_threads(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        """A keyset page of threads in (created_at, insertion) order.

        Raises ``CursorNotFound`` when ``after``/``before`` name no thread of the project
        (of the user, when ``user`` is given).
        """

    @abc.abstractmethod
    async def upsert_thread(self, project: str, row: ThreadRow) -> bool:
        """Insert the thread, or update title/status/extra if it exists for the same user.

        Returns ``False`` (and changes nothing) when the id belongs to another user.
        """

    @abc.abstractmethod
    async def delete_thread_row(self, project: str, thread_id: str) -> bool:
        """Delete the thread, its items, attachment records and feedback in one transaction."""

    # -- items (project-scoped) --

    @abc.abstractmethod
    async def list_items(
        self, project: str, thread_id: str, page: PageQuery, *, rest_only: bool
    ) -> RowPage[ItemRow]:
        """A keyset page of a thread's items; ``rest_only`` skips hidden items."""

    @abc.abstractmethod
    async def get_item(self, project: str, thread_id: str, item_id: str) -> ItemRow | None: ...

    @abc.abstractmethod
    async def insert_item(self, project: str, row: ItemRow) -> None:
        """Append an item; raises ``DuplicateId`` if the id is taken in the project."""

    @abc.abstractmethod
    async def upsert_item(self, project: str, row: ItemRow) -> None:
        """Replace an item's payload, keeping its place in the order; insert if new."""

    @abc.abstractmethod
    async def delete_item(self, project: str, thread_id: str, item_id: str) -> bool: ...

    # -- attachments metadata (project-scoped) --

    @abc.abstractmethod
    async def put_attachment(
        self, project: str, attachment_id: str, user: str, thread_id: str | None, payload: str
    ) -> None: ...

    @abc.abstractmethod
    async def get_attachment(self, project: str, attachment_id: str) -> tuple[str, str] | None:
        """``(user, payload)`` of an attachment record, or ``None``."""

    @abc.abstractmethod
    async def remove_attachment(self, project: str, attachment_id: str) -> bool: ...

    @abc.abstractmethod
    async def list_thread_attachments(self, project: str, thread_id: str) -> list[str]:
        """Ids of the attachment records that belong to a thread."""

    # -- sessions --

    @abc.abstractmethod
    async def create_session(self, row: SessionRow, secret_hash: str) -> None: ...

    @abc.abstractmethod
    async def get_session(self, project: str, session_id: str) -> SessionRow | None: ...

    @abc.abstractmethod
    async def find_session(self, secret_hash: str) -> SessionRow | None:
        """The session whose client secret has this hash (in any state), or ``None``."""

    @abc.abstractmethod
    async def cancel_session(self, project: str, session_id: str, at: int) -> bool:
        """Set ``cancelled_at = at`` if the session is neither cancelled nor expired at ``at``
        (``expires_at > at``). Returns whether it changed."""

    @abc.abstractmethod
    async def take_request_slot(
        self, project: str, session_id: str, now_ms: int, limit: int, window_ms: int
    ) -> int | None:
        """Admit one request of a session under a sliding-window limit, atomically.

        Requests admitted in ``(now_ms - window_ms, now_ms]`` count against ``limit``.
        Below it, record this request at ``now_ms`` and return ``None``; otherwise record
        nothing (refused requests do not count) and return the milliseconds until the
        oldest counted request leaves the window. Entries older than the window may be
        purged for all sessions.
        """

    @abc.abstractmethod
    async def reserve_upload(self, project: str, session_id: str, max_files: int | None) -> bool:
        """Count one more file uploaded in the session unless ``max_files`` are already
        counted (``None``: no limit), atomically. Returns whether it was counted."""

    # -- feedback --

    @abc.abstractmethod
    async def put_feedback(self, project: str, rows: Sequence[FeedbackRow]) -> None:
        """Store feedback; a row for the same (thread, item, user) replaces the earlier one
        (new ``kind``, ``created_at`` and a new place at the end of the order)."""

    @abc.abstractmethod
    async def list_feedback(
        self, project: str, *, user: str | None = None, after: int = 0, limit: int = 100
    ) -> list[FeedbackRow]:
        """Feedback of the project (of ``user`` when given) in ``seq`` order, ``seq > after``."""

    # -- bulk --

    @abc.abstractmethod
    async def import_rows(
        self, project: str, threads: Sequence[ThreadRow], items: Sequence[ItemRow]
    ) -> None:
        """Store threads and items in one transaction: all or nothing.

        Items keep the given sequence order among equal timestamps. Raises
        ``DuplicateId`` if an id is already taken in the project.
        """

    @contextlib.asynccontextmanager
    async def bulk_import(self, project: str) -> AsyncIterator[BulkImport]:
        """``import_rows`` for rows that arrive in batches: all of them are stored in one
        transaction when the block ends, none if it ends with an exception.

        Batches behave as if concatenated in the order given. This default keeps them
        until the end; a store may store each while the caller prepares the next (the
        SQLite store does), committing only at the end.
        """
        buffered = _BufferedImport()
        yield buffered
        await self.import_rows(project, buffered.threads, buffered.items)

    # -- API keys --

    @abc.abstractmethod
    async def create_key(self, row: KeyRow, secret_hash: str) -> None: ...

    @abc.abstractmethod
    async def find_key(self, secret_hash: str) -> KeyRow | None:
        """The key with this secret hash (revoked or not), or ``None``."""

    @abc.abstractmethod
    async def list_keys(self, project: str | None = None) -> list[KeyRow]: ...

    @abc.abstractmethod
    async def revoke_key(self, key_id: str, revoked_at: int) -> bool: ...

    def keys_version(self) -> Hashable | None:
        """A value that differs once any change to API keys is committed, by any process,
        or ``None`` when the backend cannot tell cheaply. Reading it costs no query: the
        key service trusts a cached lookup only while this stays the same."""
        return None

    # -- chatkit.store.Store ------------------------------------------------------------

    def generate_thread_id(self, context: Any) -> str:
        return ids.new_thread_id()

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: Any
    ) -> str:
        return ids.new_item_id()

    def generate_attachment_id(self, mime_type: str, context: Any) -> str:
        return ids.new_attachment_id()

    async def _owned_thread(self, thread_id: str, context: Any) -> ThreadRow:
        row = await self.get_thread(project_of(context), thread_id)
        if row is None or row.user != user_of(context):
            raise NotFoundError(f"Thread {thread_id} not found")
        return row

    async def load_thread(self, thread_id: str, context: Any) -> ThreadMetadata:
        return thread_row_to_metadata(await self._owned_thread(thread_id, context))

    async def save_thread(self, thread: ThreadMetadata, context: Any) -> None:
        row = thread_row_from_metadata(thread, user_of(context))
        if not await self.upsert_thread(project_of(context), row):
            raise NotFoundError(f"Thread {thread.id} not found")

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Any
    ) -> Page[ThreadItem]:
        await self._owned_thread(thread_id, context)
        try:
            page = await self.list_items(
                project_of(context),
                thread_id,
                PageQuery(limit=limit, order="asc" if order == "asc" else "desc", after=after),
                rest_only=False,
            )
        except CursorNotFound as exc:
            raise NotFoundError(f"Item {exc.value} not found in thread {thread_id}") from exc
        data = [row.to_protocol() for row in page.rows]
        return Page(data=data, has_more=page.has_more, after=data[-1].id if data else None)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Any
    ) -> Page[ThreadMetadata]:
        try:
            page = await self.list_threads(
                project_of(context),
                PageQuery(limit=limit, order="asc" if order == "asc" else "desc", after=after),
                user=user_of(context),
            )
        except CursorNotFound as exc:
            raise NotFoundError(f"Thread {exc.value} not found") from exc
        data = [thread_row_to_metadata(row) for row in page.rows]
        return Page(data=data, has_more=page.has_more, after=data[-1].id if data else None)

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        await self._owned_thread(thread_id, context)
        await self.delete_thread_row(project_of(context), thread_id)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await self._owned_thread(thread_id, context)
        await self.insert_item(project_of(context), item_row_from_protocol(item))

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await self._owned_thread(thread_id, context)
        await self.upsert_item(project_of(context), item_row_from_protocol(item))

    async def load_item(self, thread_id: str, item_id: str, context: Any) -> ThreadItem:
        await self._owned_thread(thread_id, context)
        row = await self.get_item(project_of(context), thread_id, item_id)
        if row is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return row.to_protocol()

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
        await self._owned_thread(thread_id, context)
        await self.delete_item(project_of(context), thread_id, item_id)

    async def save_attachment(self, attachment: Attachment, context: Any) -> None:
        await self.put_attachment(
            project_of(context),
            attachment.id,
            user_of(context),
            attachment.thread_id,
            attachment.model_dump_json(),
        )

    async def load_attachment(self, attachment_id: str, context: Any) -> Attachment:
        found = await self.get_attachment(project_of(context), attachment_id)
        if found is None or found[0] != user_of(context):
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return _ATTACHMENT.validate_json(found[1])

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        await self.load_attachment(attachment_id, context)
        await self.remove_attachment(project_of(context), attachment_id)
