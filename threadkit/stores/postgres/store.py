"""The PostgreSQL store: many threadkit processes, on any number of hosts, over one database.

asyncpg with a connection pool (``connections``), opened by the first call. Every
API write is one transaction, and nearly always one statement (``queries``). Item
payloads are ``json`` columns, which keep the text exactly as given, so the REST API
serves the bytes it stored. Pages: ``listings``; bulk import: ``bulk``; sync state:
``sync_state``.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from threadkit.stores.base import SEARCH_CHUNK
from threadkit.stores.chatkit_store import ThreadStore
from threadkit.stores.context import DEFAULT_PROJECT
from threadkit.stores.errors import DuplicateId
from threadkit.stores.records import (
    FeedbackRow,
    ItemRow,
    KeyRow,
    PageQuery,
    RowPage,
    SearchQuery,
    SessionRow,
    SyncBatch,
    ThreadItemsPage,
    ThreadRow,
    ThreadsText,
    ThreadText,
)
from threadkit.stores.request_window import BUCKET_MS, Grant, bucket_of
from threadkit.stores.rows import (
    dump_json,
    feedback_row,
    item_params,
    item_row,
    key_params,
    key_row,
    session_params,
    session_row,
    thread_params,
    thread_row,
)

from . import bulk, search_backlog, sync_state
from .connections import Pool, names_nothing
from .key_changes import KeyChanges
from .listings import (
    ITEMS,
    REST_ITEMS,
    THREADS,
    USER_THREADS,
    fetch_page,
    fetch_thread_items,
    fetch_threads_text,
)
from .maintenance import MaintenanceQueries
from .migrate import migrate, schema_version
from .queries import (
    CANCEL_SESSION,
    CREATE_KEY,
    CREATE_SESSION,
    DELETE_ITEM,
    DELETE_THREAD,
    FIND_KEY,
    FIND_SESSION,
    GET_ATTACHMENT,
    GET_ITEM,
    GET_SESSION,
    GET_THREAD,
    INSERT_ITEM,
    INSERT_OWNED_ITEM,
    LIST_FEEDBACK,
    LIST_KEYS,
    LIST_PROJECT_KEYS,
    LIST_THREAD_FEEDBACK,
    LIST_USER_FEEDBACK,
    PURGE_BATCH,
    PUT_ATTACHMENT,
    PUT_FEEDBACK,
    REMOVE_ATTACHMENT,
    REPLACE_THREAD,
    RESERVE_UPLOAD,
    REVOKE_KEY,
    TAKE_REQUEST_SLOTS,
    THREAD_ATTACHMENTS,
    UPSERT_ITEM,
    UPSERT_THREAD,
)
from .search import search_page

DEFAULT_POOL_MIN = 1
DEFAULT_POOL_MAX = 10
#: prepared statements cached per connection; ``0`` behind a transaction-mode pooler
#: such as PgBouncer
DEFAULT_STATEMENT_CACHE_SIZE = 100
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_ACQUIRE_TIMEOUT = 10.0
DEFAULT_COMMAND_TIMEOUT = 30.0


class PostgresStore(MaintenanceQueries, ThreadStore):
    """Thread store on PostgreSQL: ``PostgresStore("postgresql://user@host:port/db")``.

    Usable at once: the first call (from inside an event loop) checks and upgrades
    the schema and opens the pool, which then belongs to that event loop. ``project``
    is the project of contexts that name none; the other settings are per process.
    """

    backend = "postgres"

    def __init__(
        self,
        url: str,
        *,
        project: str = DEFAULT_PROJECT,
        pool_min: int = DEFAULT_POOL_MIN,
        pool_max: int = DEFAULT_POOL_MAX,
        statement_cache_size: int = DEFAULT_STATEMENT_CACHE_SIZE,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
    ) -> None:
        if pool_max < 1 or not 0 <= pool_min <= pool_max:
            raise ValueError(
                f"PostgreSQL pool size needs 0 <= min <= max and max >= 1,"
                f" got min={pool_min} max={pool_max}"
            )
        if statement_cache_size < 0:
            raise ValueError("the statement cache size cannot be negative")
        self.url = url
        self.project = project
        self._pool = Pool(
            url,
            self._migrate,
            pool_min=pool_min,
            pool_max=pool_max,
            statement_cache_size=statement_cache_size,
            connect_timeout=connect_timeout,
            acquire_timeout=acquire_timeout,
            command_timeout=command_timeout,
        )
        self._key_changes = KeyChanges(url, self._pool.connect_options())
        #: the bucket in which this process last asked a rate-limit check to purge idle
        #: sessions' windows (at most once per bucket, unless a purge found a full batch)
        self._purged_at: int | None = None

    @property
    def pool(self) -> Pool:
        """The connection pool and its settings (``pool.pool_max``, ...)."""
        return self._pool

    # -- lifecycle -----------------------------------------------------------------------

    async def _migrate(self) -> int:
        version, applied = await migrate(self.url, self._pool.connect_options())
        self.migrations_applied += tuple(applied)
        return version

    async def migrate(self) -> int:
        """Apply pending migrations now; returns the schema version."""
        return await self._migrate()

    async def schema_version(self) -> int:
        """The recorded schema version (0 for an empty database)."""
        return await self._pool.run(schema_version, idempotent=True)

    async def open(self) -> None:
        await self._pool.ready()

    async def close(self) -> None:
        self._key_changes.close()
        await self._pool.close()

    # -- threads -------------------------------------------------------------------------

    async def get_thread(self, project: str, thread_id: str) -> ThreadRow | None:
        r = await self._pool.fetchrow(GET_THREAD, project, thread_id)
        return thread_row(r) if r is not None else None

    async def list_threads(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        rows, has_more = await self._thread_page(project, page, user)
        return RowPage([thread_row(r) for r in rows], has_more)

    async def list_thread_texts(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadText]:
        rows, has_more = await self._thread_page(project, page, user)
        return RowPage([tuple(r) for r in rows], has_more)  # type: ignore[misc]

    async def read_threads_text(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> ThreadsText:
        if user is None:
            return await fetch_threads_text(self._pool, THREADS, (project,), page)
        return await fetch_threads_text(self._pool, USER_THREADS, (project, user), page)

    async def _thread_page(
        self, project: str, page: PageQuery, user: str | None
    ) -> tuple[list[asyncpg.Record], bool]:
        if user is None:
            return await fetch_page(self._pool, THREADS, (project,), page)
        return await fetch_page(self._pool, USER_THREADS, (project, user), page)

    async def read_thread_items(
        self, project: str, thread_id: str, page: PageQuery
    ) -> ThreadItemsPage | None:
        return await fetch_thread_items(self._pool, project, thread_id, page)

    async def upsert_thread(self, project: str, row: ThreadRow) -> bool:
        done = await self._pool.write_returning(UPSERT_THREAD, *thread_params(project, row))
        return done is not None

    async def replace_thread(self, project: str, row: ThreadRow) -> bool:
        if names_nothing(project, row.id, row.user):
            return False
        status = await self._pool.write(
            REPLACE_THREAD,
            *(project, row.id, row.user, row.title, dump_json(row.status), dump_json(row.extra)),
        )
        return status != "UPDATE 0"

    async def search_threads(
        self, project: str, search: SearchQuery, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        rows, has_more = await search_page(self._pool, project, search, page, user)
        return RowPage([thread_row(r) for r in rows], has_more)

    async def delete_thread_row(self, project: str, thread_id: str) -> bool:
        if names_nothing(project, thread_id):
            return False
        gone = await self._pool.write_returning(DELETE_THREAD, project, thread_id)
        return bool(gone and gone[0])

    # -- items ---------------------------------------------------------------------------

    async def list_items(
        self, project: str, thread_id: str, page: PageQuery, *, rest_only: bool
    ) -> RowPage[ItemRow]:
        listing = REST_ITEMS if rest_only else ITEMS
        rows, has_more = await fetch_page(self._pool, listing, (project, thread_id), page)
        return RowPage([item_row(r) for r in rows], has_more)

    async def get_item(self, project: str, thread_id: str, item_id: str) -> ItemRow | None:
        r = await self._pool.fetchrow(GET_ITEM, project, item_id, thread_id)
        return item_row(r) if r is not None else None

    async def insert_item(self, project: str, row: ItemRow) -> None:
        try:
            await self._pool.write(INSERT_ITEM, *item_params(project, row))
        except asyncpg.UniqueViolationError:
            raise DuplicateId("item", row.id) from None

    async def append_items(self, project: str, thread_id: str, items: Sequence[ItemRow]) -> bool:
        if names_nothing(project, thread_id):
            return False
        return await bulk.append_items(self._pool, project, thread_id, items)

    async def insert_owned_item(self, project: str, user: str, row: ItemRow) -> bool:
        if names_nothing(project, row.thread_id, user):
            return False
        try:
            status = await self._pool.write(INSERT_OWNED_ITEM, *item_params(project, row), user)
        except asyncpg.UniqueViolationError:
            raise DuplicateId("item", row.id) from None
        return status != "INSERT 0 0"

    async def upsert_item(self, project: str, row: ItemRow) -> None:
        # No row back: the id belongs to an item of another thread.
        done = await self._pool.write_returning(UPSERT_ITEM, *item_params(project, row))
        if done is None:
            raise DuplicateId("item", row.id)

    async def delete_item(self, project: str, thread_id: str, item_id: str) -> bool:
        if names_nothing(project, thread_id, item_id):
            return False
        status = await self._pool.write(DELETE_ITEM, project, item_id, thread_id)
        return status != "DELETE 0"

    # -- attachments ---------------------------------------------------------------------

    async def put_attachment(
        self, project: str, attachment_id: str, user: str, thread_id: str | None, payload: str
    ) -> None:
        await self._pool.write(PUT_ATTACHMENT, project, attachment_id, user, thread_id, payload)

    async def get_attachment(self, project: str, attachment_id: str) -> tuple[str, str] | None:
        r = await self._pool.fetchrow(GET_ATTACHMENT, project, attachment_id)
        return (r[0], r[1]) if r is not None else None

    async def remove_attachment(self, project: str, attachment_id: str) -> bool:
        if names_nothing(project, attachment_id):
            return False
        status = await self._pool.write(REMOVE_ATTACHMENT, project, attachment_id)
        return status != "DELETE 0"

    async def list_thread_attachments(self, project: str, thread_id: str) -> list[str]:
        return [r[0] for r in await self._pool.fetch(THREAD_ATTACHMENTS, project, thread_id)]

    # -- sessions ------------------------------------------------------------------------

    async def create_session(self, row: SessionRow, secret_hash: str) -> None:
        await self._pool.write(CREATE_SESSION, *session_params(row, secret_hash))

    async def get_session(self, project: str, session_id: str) -> SessionRow | None:
        r = await self._pool.fetchrow(GET_SESSION, project, session_id)
        return session_row(r) if r is not None else None

    async def find_session(self, secret_hash: str) -> SessionRow | None:
        r = await self._pool.fetchrow(FIND_SESSION, secret_hash)
        return session_row(r) if r is not None else None

    async def cancel_session(self, project: str, session_id: str, at: int) -> bool:
        if names_nothing(project, session_id):
            return False
        return await self._pool.write(CANCEL_SESSION, project, session_id, at) != "UPDATE 0"

    async def take_request_slots(
        self,
        project: str,
        session_id: str,
        now_ms: int,
        limit: int,
        window_ms: int,
        want: int = 1,
        give_back: tuple[int, int] | None = None,
    ) -> Grant:
        back_bucket, back = give_back if give_back is not None else (0, 0)
        current = bucket_of(now_ms)
        purge = self._purged_at != current
        if purge:
            self._purged_at = current  # the calls made meanwhile leave it to this one
        row = await self._pool.run(
            lambda c: c.fetchrow(
                TAKE_REQUEST_SLOTS.sql,
                project,
                session_id,
                now_ms,
                limit,
                window_ms,
                BUCKET_MS,
                want,
                back_bucket,
                back,
                purge,
            ),
            idempotent=False,
        )
        granted, wait_ms, purged = row
        if purged >= PURGE_BATCH and self._purged_at == current:
            self._purged_at = None  # more may be left: the next call purges again
        return Grant(granted, wait_ms)

    async def reserve_upload(self, project: str, session_id: str, max_files: int | None) -> bool:
        if names_nothing(project, session_id):
            return False
        return await self._pool.write(RESERVE_UPLOAD, project, session_id, max_files) != "UPDATE 0"

    # -- feedback ------------------------------------------------------------------------

    async def put_feedback(self, project: str, rows: Sequence[FeedbackRow]) -> None:
        # A later row for the same (thread, item, user) replaces an earlier one and takes
        # its place at the end; one statement cannot update a row twice, so keep the last.
        seen: set[tuple[str, str, str]] = set()
        unique: list[FeedbackRow] = []
        for r in reversed(rows):
            if (r.thread_id, r.item_id, r.user) not in seen:
                seen.add((r.thread_id, r.item_id, r.user))
                unique.append(r)
        unique.reverse()
        if not unique:
            return
        await self._pool.write(
            PUT_FEEDBACK,
            project,
            [r.thread_id for r in unique],
            [r.item_id for r in unique],
            [r.user for r in unique],
            [r.kind for r in unique],
            [r.created_at for r in unique],
        )

    async def list_feedback(
        self, project: str, *, user: str | None = None, after: int = 0, limit: int = 100
    ) -> list[FeedbackRow]:
        if user is None:
            rows = await self._pool.fetch(LIST_FEEDBACK, project, after, limit)
        else:
            rows = await self._pool.fetch(LIST_USER_FEEDBACK, project, after, user, limit)
        return [feedback_row(r) for r in rows]

    async def list_thread_feedback(self, project: str, thread_id: str) -> list[FeedbackRow]:
        rows = await self._pool.fetch(LIST_THREAD_FEEDBACK, project, thread_id)
        return [feedback_row(r) for r in rows]

    # -- keys ----------------------------------------------------------------------------

    async def create_key(self, row: KeyRow, secret_hash: str) -> None:
        await self._pool.write(CREATE_KEY, *key_params(row, secret_hash))

    async def find_key(self, secret_hash: str) -> KeyRow | None:
        r = await self._pool.fetchrow(FIND_KEY, secret_hash)
        return key_row(r) if r is not None else None

    async def list_keys(self, project: str | None = None) -> list[KeyRow]:
        if project is None:
            rows = await self._pool.fetch(LIST_KEYS)
        else:
            rows = await self._pool.fetch(LIST_PROJECT_KEYS, project)
        return [key_row(r) for r in rows]

    async def revoke_key(self, key_id: str, revoked_at: int) -> bool:
        if names_nothing(key_id):
            return False
        status = await self._pool.write(REVOKE_KEY, key_id, revoked_at)
        return status != "SELECT 0"

    def keys_version(self) -> int | None:
        """How many key revocations this process was notified of, while it listens.

        ``None`` (the key service then caches nothing) behind a transaction-mode
        pooler (statement cache 0), where LISTEN does not hold, and while the listening
        connection is down; a new one is tried at most every few seconds.
        """
        pool = self._pool
        return self._key_changes.version(pool.is_open and pool.statement_cache_size > 0)

    # -- sync state ----------------------------------------------------------------------

    async def sync_cursors(self, project: str, thread_ids: Sequence[str]) -> dict[str, str]:
        return await sync_state.cursors(self._pool, project, list(thread_ids))

    async def apply_sync(self, project: str, batch: SyncBatch) -> None:
        await sync_state.apply(self._pool, project, batch)

    async def sync_resume_point(self, project: str, source: str, user: str | None) -> str | None:
        return await sync_state.resume_point(self._pool, project, source, user)

    async def set_sync_resume_point(
        self, project: str, source: str, user: str | None, thread_id: str | None
    ) -> None:
        await sync_state.set_resume_point(self._pool, project, source, user, thread_id)

    # -- bulk ----------------------------------------------------------------------------

    async def import_rows(
        self, project: str, threads: Sequence[ThreadRow], items: Sequence[ItemRow]
    ) -> None:
        await bulk.import_rows(self._pool, project, threads, items)

    async def create_thread(self, project: str, row: ThreadRow, items: Sequence[ItemRow]) -> None:
        await bulk.import_rows(self._pool, project, [row], items, search_later=False)

    async def index_search_backlog(self, limit: int = SEARCH_CHUNK) -> int:
        return await search_backlog.index_some(self._pool, limit)

    async def search_backlog(self) -> int:
        return await search_backlog.waiting(self._pool)
