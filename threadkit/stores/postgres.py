"""The PostgreSQL store: many threadkit processes, on any number of hosts, over one database.

asyncpg with a connection pool. Every API write is one transaction, and nearly
always one statement (one round trip). Item payloads are ``json`` columns, which
keep the text exactly as given, so the REST API serves the bytes it stored.

Order: lists are in (created_us, seq) order; ``seq`` comes from a sequence. A
sequence hands out numbers in call order, not commit order, so appends to one
thread take a per-thread transaction lock first: within a thread, ``seq`` order is
commit order and a reader paging while writers append never skips an item.

Failures to reach the database (restart, refused connection, pool exhausted,
timeouts) raise ``StoreUnavailable`` quickly; the pool replaces broken connections
by itself once the server is back.

Settings (constructor arguments win over the environment):

* ``THREADKIT_PG_POOL_MIN`` / ``THREADKIT_PG_POOL_MAX``: pool size per process (1 / 10).
* ``THREADKIT_PG_STATEMENT_CACHE_SIZE``: prepared statements cached per connection
  (100); ``0`` behind a transaction-mode pooler such as PgBouncer.
* ``THREADKIT_PG_CONNECT_TIMEOUT`` (5 s), ``THREADKIT_PG_ACQUIRE_TIMEOUT`` (10 s),
  ``THREADKIT_PG_COMMAND_TIMEOUT`` (30 s).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from threadkit.stores import migrations
from threadkit.stores.base import (
    CursorNotFound,
    DuplicateId,
    FeedbackRow,
    ItemRow,
    KeyRow,
    Order,
    PageQuery,
    RowPage,
    SessionRow,
    StoreUnavailable,
    ThreadRow,
    ThreadStore,
)
from threadkit.stores.rows import (
    FEEDBACK_COLUMNS,
    ITEM_COLUMNS,
    KEY_COLUMNS,
    SESSION_COLUMNS,
    THREAD_COLUMNS,
    dump_json,
    feedback_row,
    item_row,
    key_row,
    session_row,
    thread_row,
)

R = TypeVar("R")
log = logging.getLogger("threadkit.postgres")


class _OneLine(logging.Filter):
    """While the database is down, asyncpg's pool retries its minimum size in the
    background and logs a full traceback each time; one line says as much."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("asyncpg.pool").addFilter(_OneLine())

DEFAULT_POOL_MIN = 1
DEFAULT_POOL_MAX = 10
DEFAULT_STATEMENT_CACHE_SIZE = 100
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_ACQUIRE_TIMEOUT = 10.0
DEFAULT_COMMAND_TIMEOUT = 30.0

#: rows per statement when importing
IMPORT_BATCH = 5_000

# Two int4 keys: a separate key space from the one-bigint per-thread locks.
_MIGRATION_LOCK = (0x74686B, 1)

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connect, pool acquire, command timeout
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutting down, starting up, canceled
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, disk full
)


# --- the statements -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """A statement and the names of its parameters ``$1, $2, ...`` in order."""

    sql: str
    params: tuple[str, ...]


_LOCK_THREAD = "pg_advisory_xact_lock(hashtextextended($1::text || ' ' || $2::text, 0))"

GET_THREAD = Query(
    f"SELECT {THREAD_COLUMNS} FROM threads WHERE project = $1 AND id = $2",
    ("project", "thread_id"),
)
UPSERT_THREAD = Query(
    "INSERT INTO threads (project, id, user_id, created_us, title, status, extra)"
    " VALUES ($1, $2, $3, $4, $5, $6::json, $7::json)"
    " ON CONFLICT (project, id) DO UPDATE"
    " SET title = excluded.title, status = excluded.status, extra = excluded.extra"
    " WHERE threads.user_id = excluded.user_id"
    " RETURNING seq",
    ("project", "thread_id", "user", "created_us", "title", "status", "extra"),
)
# Data-modifying CTEs share one snapshot and always run to completion: one statement
# deletes the thread, its items, attachment records and feedback, or nothing.
DELETE_THREAD = Query(
    "WITH gone AS (DELETE FROM threads WHERE project = $1 AND id = $2 RETURNING id),"
    " gone_items AS (DELETE FROM items"
    " WHERE project = $1 AND thread_id = $2 AND EXISTS (SELECT 1 FROM gone)),"
    " gone_attachments AS (DELETE FROM attachments"
    " WHERE project = $1 AND thread_id = $2 AND EXISTS (SELECT 1 FROM gone)),"
    " gone_feedback AS (DELETE FROM feedback"
    " WHERE project = $1 AND thread_id = $2 AND EXISTS (SELECT 1 FROM gone))"
    " SELECT count(*) FROM gone",
    ("project", "thread_id"),
)
GET_ITEM = Query(
    f"SELECT {ITEM_COLUMNS} FROM items WHERE project = $1 AND id = $2 AND thread_id = $3",
    ("project", "item_id", "thread_id"),
)
_ITEM_VALUES = (
    f"WITH serialize AS MATERIALIZED (SELECT {_LOCK_THREAD})"
    " INSERT INTO items (project, thread_id, id, created_us, shape, rest_type, payload)"
    " SELECT $1::text, $2::text, $3::text, $4::bigint, $5::text, $6::text, $7::json"
    " FROM serialize"
)
_ITEM_PARAMS = ("project", "thread_id", "item_id", "created_us", "shape", "rest_type", "payload")
INSERT_ITEM = Query(_ITEM_VALUES, _ITEM_PARAMS)
UPSERT_ITEM = Query(
    _ITEM_VALUES + " ON CONFLICT (project, id) DO UPDATE"
    " SET shape = excluded.shape, rest_type = excluded.rest_type, payload = excluded.payload"
    " WHERE items.thread_id = excluded.thread_id"
    " RETURNING seq",
    _ITEM_PARAMS,
)
DELETE_ITEM = Query(
    "DELETE FROM items WHERE project = $1 AND id = $2 AND thread_id = $3",
    ("project", "item_id", "thread_id"),
)
PUT_ATTACHMENT = Query(
    "INSERT INTO attachments (project, id, user_id, thread_id, payload)"
    " VALUES ($1, $2, $3, $4, $5::json)"
    " ON CONFLICT (project, id) DO UPDATE"
    " SET thread_id = excluded.thread_id, payload = excluded.payload"
    " WHERE attachments.user_id = excluded.user_id",
    ("project", "attachment_id", "user", "thread_id", "payload"),
)
GET_ATTACHMENT = Query(
    "SELECT user_id, payload FROM attachments WHERE project = $1 AND id = $2",
    ("project", "attachment_id"),
)
REMOVE_ATTACHMENT = Query(
    "DELETE FROM attachments WHERE project = $1 AND id = $2", ("project", "attachment_id")
)
THREAD_ATTACHMENTS = Query(
    "SELECT id FROM attachments WHERE project = $1 AND thread_id = $2 ORDER BY id",
    ("project", "thread_id"),
)

CREATE_SESSION = Query(
    "INSERT INTO sessions (project, id, user_id, secret_hash, secret_hint, created_at,"
    " expires_at, cancelled_at, workflow, rate_limit, configuration, files_used)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json, $10, $11::json, $12)",
    (
        "project",
        "session_id",
        "user",
        "secret_hash",
        "secret_hint",
        "created_at",
        "expires_at",
        "cancelled_at",
        "workflow",
        "rate_limit",
        "configuration",
        "files_used",
    ),
)
GET_SESSION = Query(
    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project = $1 AND id = $2",
    ("project", "session_id"),
)
FIND_SESSION = Query(
    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE secret_hash = $1", ("secret_hash",)
)
CANCEL_SESSION = Query(
    "UPDATE sessions SET cancelled_at = $3 WHERE project = $1 AND id = $2"
    " AND cancelled_at IS NULL AND expires_at > $3",
    ("project", "session_id", "at"),
)
RESERVE_UPLOAD = Query(
    "UPDATE sessions SET files_used = files_used + 1"
    " WHERE project = $1 AND id = $2 AND ($3::integer IS NULL OR files_used < $3::integer)",
    ("project", "session_id", "max_files"),
)
# Rate limit: under a per-session lock (its own statement, so the count below sees
# every admission committed before it), count the window, admit if below the limit,
# and purge a bounded batch of expired entries of any session without waiting on
# rows another request is purging.
LOCK_SESSION = Query(
    "SELECT pg_advisory_xact_lock(hashtextextended('session ' || $1::text || ' ' || $2::text, 0))",
    ("project", "session_id"),
)
TAKE_REQUEST_SLOT = Query(
    "WITH purged AS (DELETE FROM session_requests WHERE id = ANY(ARRAY("
    "SELECT id FROM session_requests WHERE at_ms <= $3::bigint - $5::bigint"
    " ORDER BY at_ms LIMIT 100 FOR UPDATE SKIP LOCKED))),"
    " counted AS (SELECT count(*) AS n, min(at_ms) AS oldest FROM session_requests"
    " WHERE project = $1 AND session_id = $2 AND at_ms > $3::bigint - $5::bigint),"
    " admitted AS (INSERT INTO session_requests (project, session_id, at_ms)"
    " SELECT $1, $2, $3 FROM counted WHERE n < $4::bigint RETURNING 1)"
    " SELECT n, oldest FROM counted",
    ("project", "session_id", "now_ms", "limit", "window_ms"),
)
# Feedback is exported by `seq`; a per-project lock taken before the sequence is read
# makes `seq` order commit order, so an export paging by `seq` never skips a row.
PUT_FEEDBACK = Query(
    "WITH serialize AS MATERIALIZED ("
    "SELECT pg_advisory_xact_lock(hashtextextended('feedback ' || $1::text, 0)))"
    " INSERT INTO feedback (project, thread_id, item_id, user_id, kind, created_at)"
    " SELECT $1::text, t, i, u, k, c FROM serialize,"
    " unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])"
    " WITH ORDINALITY AS r(t, i, u, k, c, n) ORDER BY n"
    " ON CONFLICT (project, thread_id, item_id, user_id) DO UPDATE"
    " SET kind = excluded.kind, created_at = excluded.created_at, seq = excluded.seq",
    ("project", "thread_ids", "item_ids", "users", "kinds", "created_ats"),
)
LIST_FEEDBACK = Query(
    f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE project = $1 AND seq > $2"
    " ORDER BY seq LIMIT $3",
    ("project", "after_seq", "limit"),
)
LIST_USER_FEEDBACK = Query(
    f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE project = $1 AND seq > $2"
    " AND user_id = $3 ORDER BY seq LIMIT $4",
    ("project", "after_seq", "user", "limit"),
)

FIND_KEY = Query(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1", ("secret_hash",))
CREATE_KEY = Query(
    "INSERT INTO api_keys (id, project, secret_hash, hint, created_at, revoked_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)",
    ("key_id", "project", "secret_hash", "hint", "created_at", "revoked_at"),
)
#: LISTEN/NOTIFY channel told of every key revocation (see ``keys_version``)
KEYS_CHANNEL = "threadkit_keys"
# The notification is sent if and only if the revocation commits.
REVOKE_KEY = Query(
    "WITH revoked AS (UPDATE api_keys SET revoked_at = $2 WHERE id = $1"
    " AND revoked_at IS NULL RETURNING id)"
    f" SELECT pg_notify('{KEYS_CHANNEL}', id) FROM revoked",
    ("key_id", "revoked_at"),
)
LIST_KEYS = Query(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id", ())
LIST_PROJECT_KEYS = Query(
    f"SELECT {KEY_COLUMNS} FROM api_keys WHERE project = $1 ORDER BY created_at, id",
    ("project",),
)

# Import: arrays in, one statement per batch; WITH ORDINALITY keeps the given order,
# which the sequence turns into the tie-break order.
IMPORT_LOCK_THREADS = Query(
    "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ' ' || t, 0))"
    " FROM (SELECT DISTINCT t FROM unnest($2::text[]) AS u(t) ORDER BY t) AS in_order",
    ("project", "thread_ids"),
)
IMPORT_THREADS = Query(
    "INSERT INTO threads (project, id, user_id, created_us, title, status, extra)"
    " SELECT $1, i, u, c, t, s::json, e::json"
    " FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])"
    " WITH ORDINALITY AS r(i, u, c, t, s, e, n) ORDER BY n",
    ("project", "ids", "users", "created_us", "titles", "statuses", "extras"),
)
IMPORT_ITEMS = Query(
    "INSERT INTO items (project, thread_id, id, created_us, shape, rest_type, payload)"
    " SELECT $1, t, i, c, s, r, p::json"
    " FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])"
    " WITH ORDINALITY AS x(t, i, c, s, r, p, n) ORDER BY n",
    ("project", "thread_ids", "ids", "created_us", "shapes", "rest_types", "payloads"),
)


@dataclass(frozen=True, slots=True)
class Listing:
    """A keyset-paged list: the rows of ``table`` matching ``scope``, in (created_us, seq)
    order. ``scope`` uses ``$1..$k``, named by ``scope_params``."""

    name: str
    table: str
    columns: str
    scope: str
    scope_params: tuple[str, ...]

    def cursor(self) -> Query:
        """Whether an id is in the list (asked only when a page with a cursor is empty)."""
        n = len(self.scope_params)
        return Query(
            f"SELECT 1 FROM {self.table} WHERE {self.scope} AND id = ${n + 1}",
            (*self.scope_params, "cursor_id"),
        )

    def page(self, order: Order, after: bool, before: bool) -> Query:
        return _page_query(self, order, after, before)


@functools.cache
def _page_query(listing: Listing, order: Order, after: bool, before: bool) -> Query:
    # Same walk as the SQLite store: `after` bounds the side the order travels from,
    # `before` the side it travels to; `before` alone reads backwards (flipped later).
    # A cursor's position is looked up inside the page query (an InitPlan the index
    # condition uses), so a deep page costs one round trip like the first; an unknown
    # cursor compares as NULL and yields no rows, which `cursor()` then tells apart
    # from the end of the list.
    forward = order == "asc"
    backwards = before and not after
    direction = "ASC" if forward != backwards else "DESC"
    where = [listing.scope]
    params = list(listing.scope_params)
    bounds = []
    if after:
        bounds.append(("after", ">" if forward else "<"))
    if before:
        bounds.append(("before", "<" if forward else ">"))
    for name, op in bounds:
        params.append(f"{name}_id")
        where.append(
            f"(created_us, seq) {op} (SELECT created_us, seq FROM {listing.table}"
            f" WHERE {listing.scope} AND id = ${len(params)})"
        )
    params.append("limit")
    return Query(
        f"SELECT {listing.columns} FROM {listing.table} WHERE {' AND '.join(where)}"
        f" ORDER BY created_us {direction}, seq {direction} LIMIT ${len(params)}",
        tuple(params),
    )


THREADS = Listing("threads", "threads", THREAD_COLUMNS, "project = $1", ("project",))
USER_THREADS = Listing(
    "user_threads", "threads", THREAD_COLUMNS, "project = $1 AND user_id = $2", ("project", "user")
)
ITEMS = Listing(
    "items", "items", ITEM_COLUMNS, "project = $1 AND thread_id = $2", ("project", "thread_id")
)
REST_ITEMS = Listing(
    "rest_items",
    "items",
    ITEM_COLUMNS,
    "project = $1 AND thread_id = $2 AND rest_type IS NOT NULL",
    ("project", "thread_id"),
)
LISTINGS = (THREADS, USER_THREADS, ITEMS, REST_ITEMS)


def request_path_queries() -> Iterator[tuple[str, Query]]:
    """Every statement an API request can run, by name (for plan checks)."""
    yield from (
        ("get_thread", GET_THREAD),
        ("upsert_thread", UPSERT_THREAD),
        ("delete_thread", DELETE_THREAD),
        ("get_item", GET_ITEM),
        ("insert_item", INSERT_ITEM),
        ("upsert_item", UPSERT_ITEM),
        ("delete_item", DELETE_ITEM),
        ("put_attachment", PUT_ATTACHMENT),
        ("get_attachment", GET_ATTACHMENT),
        ("remove_attachment", REMOVE_ATTACHMENT),
        ("thread_attachments", THREAD_ATTACHMENTS),
        ("find_key", FIND_KEY),
        ("create_session", CREATE_SESSION),
        ("get_session", GET_SESSION),
        ("find_session", FIND_SESSION),
        ("cancel_session", CANCEL_SESSION),
        ("reserve_upload", RESERVE_UPLOAD),
        ("lock_session", LOCK_SESSION),
        ("take_request_slot", TAKE_REQUEST_SLOT),
        ("put_feedback", PUT_FEEDBACK),
        ("list_feedback", LIST_FEEDBACK),
        ("list_user_feedback", LIST_USER_FEEDBACK),
    )
    for listing in LISTINGS:
        yield f"{listing.name}.cursor", listing.cursor()
        for order in ("asc", "desc"):
            for after in (False, True):
                for before in (False, True):
                    name = f"{listing.name}.{order}" + ".after" * after + ".before" * before
                    yield name, listing.page(order, after, before)


# --- rows -----------------------------------------------------------------------------------


def _batches(rows: Sequence[R]) -> Iterator[Sequence[R]]:
    for start in range(0, len(rows), IMPORT_BATCH):
        yield rows[start : start + IMPORT_BATCH]


def _setting(value: R | None, env: str, default: R, parse: Callable[[str], R]) -> R:
    if value is not None:
        return value
    raw = os.environ.get(env)
    if raw is None or not raw.strip():
        return default
    try:
        return parse(raw.strip())
    except ValueError:
        raise ValueError(f"{env} must be a number, got {raw!r}") from None


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset hook. asyncpg already rolls back an open transaction on release; threadkit
    sets no session state (only transaction-scoped locks), so the default reset query
    (an extra round trip per release) is not needed."""


# --- the store ------------------------------------------------------------------------------


class PostgresStore(ThreadStore):
    """Thread store on PostgreSQL. ``url`` is ``postgresql://user@host:port/database``."""

    backend = "postgres"

    def __init__(
        self,
        url: str,
        *,
        pool_min: int | None = None,
        pool_max: int | None = None,
        statement_cache_size: int | None = None,
        connect_timeout: float | None = None,
        acquire_timeout: float | None = None,
        command_timeout: float | None = None,
    ) -> None:
        self.url = url
        self.pool_min = _setting(pool_min, "THREADKIT_PG_POOL_MIN", DEFAULT_POOL_MIN, int)
        self.pool_max = _setting(pool_max, "THREADKIT_PG_POOL_MAX", DEFAULT_POOL_MAX, int)
        self.statement_cache_size = _setting(
            statement_cache_size,
            "THREADKIT_PG_STATEMENT_CACHE_SIZE",
            DEFAULT_STATEMENT_CACHE_SIZE,
            int,
        )
        self.connect_timeout = _setting(
            connect_timeout, "THREADKIT_PG_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT, float
        )
        self.acquire_timeout = _setting(
            acquire_timeout, "THREADKIT_PG_ACQUIRE_TIMEOUT", DEFAULT_ACQUIRE_TIMEOUT, float
        )
        self.command_timeout = _setting(
            command_timeout, "THREADKIT_PG_COMMAND_TIMEOUT", DEFAULT_COMMAND_TIMEOUT, float
        )
        if self.pool_max < 1 or not 0 <= self.pool_min <= self.pool_max:
            raise ValueError(
                f"PostgreSQL pool size needs 0 <= min <= max and max >= 1,"
                f" got min={self.pool_min} max={self.pool_max}"
            )
        if self.statement_cache_size < 0:
            raise ValueError("the statement cache size cannot be negative")
        self._pool: asyncpg.Pool | None = None
        self._keys_listener: asyncpg.Connection | None = None
        self._keys_changes = 0
        self._keys_retry_at = 0.0
        self._keys_task: asyncio.Task[None] | None = None

    # -- connections ---------------------------------------------------------------------

    def _connect_options(self) -> dict[str, Any]:
        return {
            "timeout": self.connect_timeout,
            "statement_cache_size": self.statement_cache_size,
            "server_settings": {"application_name": "threadkit"},
        }

    async def _run(
        self, work: Callable[[asyncpg.Connection], Awaitable[R]], *, idempotent: bool
    ) -> R:
        """Run ``work`` on a pooled connection; connection trouble becomes ``StoreUnavailable``.

        A connection that died while idle in the pool fails the first statement sent on
        it: that is retried once for every call (nothing reached the server), and for
        ``idempotent`` calls also when the connection broke mid-statement.
        """
        if self._pool is None:
            raise StoreUnavailable("the PostgreSQL store is not open")
        pool = self._pool
        for attempt in (1, 2):
            try:
                # asyncio.timeout, not acquire(timeout=): that one wraps every acquire
                # in a task of its own, which costs more than the wait it guards.
                async with asyncio.timeout(self.acquire_timeout):
                    conn = await pool.acquire()
            except (*_UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # Whatever keeps us from connecting (down, pool closing, database
                # dropped, credentials changed) makes the database unavailable.
                raise _unavailable(exc) from exc
            try:
                return await work(conn)
            except asyncpg.InterfaceError as exc:
                if not _is_closed(conn):
                    raise
                # A transaction block reports a connection lost mid-statement as this
                # error too, chained to the loss: that statement may have reached the
                # server, so only an idempotent call may run again.
                sent = isinstance(exc.__context__, _UNAVAILABLE)
                if attempt == 1 and (idempotent or not sent):
                    continue
                raise _unavailable(exc) from exc
            except asyncpg.CharacterNotInRepertoireError as exc:
                raise ValueError(f"PostgreSQL cannot store this text: {exc}") from exc
            except _UNAVAILABLE as exc:
                broken = isinstance(exc, asyncpg.PostgresConnectionError | OSError)
                if attempt == 1 and idempotent and broken:
                    continue
                raise _unavailable(exc) from exc
            finally:
                await self._release(pool, conn)
        raise AssertionError("unreachable")

    async def _release(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
        try:
            await pool.release(conn, timeout=self.acquire_timeout)
        except Exception as exc:
            # asyncpg terminated the connection; the pool opens a new one when needed.
            log.debug("dropped a broken PostgreSQL connection: %r", exc)

    async def _fetchrow(self, query: Query, *args: Any) -> asyncpg.Record | None:
        if _names_nothing(*args):
            return None
        return await self._run(lambda c: c.fetchrow(query.sql, *args), idempotent=True)

    async def _fetch(self, query: Query, *args: Any) -> list[asyncpg.Record]:
        if _names_nothing(*args):
            return []
        return await self._run(lambda c: c.fetch(query.sql, *args), idempotent=True)

    async def _write(self, query: Query, *args: Any) -> str:
        """Run one write statement (its own transaction); returns the command status."""
        return await self._run(lambda c: c.execute(query.sql, *args), idempotent=False)

    async def _write_returning(self, query: Query, *args: Any) -> asyncpg.Record | None:
        return await self._run(lambda c: c.fetchrow(query.sql, *args), idempotent=False)

    # -- lifecycle -----------------------------------------------------------------------

    async def migrate(self) -> int:
        """Apply pending migrations; returns the schema version.

        Everything happens in one transaction holding an advisory lock, so processes
        starting at once apply each migration exactly once: the others wait, then find
        the schema up to date.
        """
        try:
            conn = await asyncpg.connect(self.url, **self._connect_options())
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc
        except asyncpg.PostgresError as exc:  # no such database, authentication failed, ...
            raise ValueError(f"cannot connect to PostgreSQL: {exc}") from exc
        applied: list[str] = []
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *_MIGRATION_LOCK)
                if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
                    await conn.execute(
                        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                        " name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
                    )
                version: int = await conn.fetchval(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
                )
                for step in migrations.load("postgres"):
                    if step.version <= version:
                        continue
                    await conn.execute(step.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations VALUES"
                        " ($1, $2, extract(epoch FROM now())::bigint)",
                        step.version,
                        step.name,
                    )
                    version = step.version
                    applied.append(step.label)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc
        finally:
            await _close(conn, self.connect_timeout)
        self.migrations_applied += tuple(applied)
        return version

    async def schema_version(self) -> int:
        """The recorded schema version (0 for an empty database)."""

        async def read(conn: asyncpg.Connection) -> int:
            if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
                return 0
            return int(
                await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            )

        return await self._run(read, idempotent=True)

    async def open(self) -> None:
        if self._pool is not None:
            return
        await self.migrate()
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self.pool_min,
                max_size=self.pool_max,
                command_timeout=self.command_timeout,
                reset=_keep_session,
                **self._connect_options(),
            )
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        listener, self._keys_listener = self._keys_listener, None
        if self._keys_task is not None:
            self._keys_task.cancel()
            self._keys_task = None
        if listener is not None:
            listener.terminate()
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout=self.acquire_timeout)
        except (TimeoutError, *_UNAVAILABLE):
            pool.terminate()

    # -- threads -------------------------------------------------------------------------

    async def get_thread(self, project: str, thread_id: str) -> ThreadRow | None:
        r = await self._fetchrow(GET_THREAD, project, thread_id)
        return thread_row(r) if r is not None else None

    async def list_threads(
        self, project: str, page: PageQuery, user: str | None = None
    ) -> RowPage[ThreadRow]:
        if user is None:
            rows, has_more = await self._keyset(THREADS, (project,), page)
        else:
            rows, has_more = await self._keyset(USER_THREADS, (project, user), page)
        return RowPage([thread_row(r) for r in rows], has_more)

    async def upsert_thread(self, project: str, row: ThreadRow) -> bool:
        done = await self._write_returning(
            UPSERT_THREAD,
            project,
            row.id,
            row.user,
            row.created_us,
            row.title,
            dump_json(row.status),
            dump_json(row.extra),
        )
        return done is not None

    async def delete_thread_row(self, project: str, thread_id: str) -> bool:
        if _names_nothing(project, thread_id):
            return False
        gone = await self._write_returning(DELETE_THREAD, project, thread_id)
        return bool(gone and gone[0])

    # -- items ---------------------------------------------------------------------------

    async def list_items(
        self, project: str, thread_id: str, page: PageQuery, *, rest_only: bool
    ) -> RowPage[ItemRow]:
        listing = REST_ITEMS if rest_only else ITEMS
        rows, has_more = await self._keyset(listing, (project, thread_id), page)
        return RowPage([item_row(r) for r in rows], has_more)

    async def get_item(self, project: str, thread_id: str, item_id: str) -> ItemRow | None:
        r = await self._fetchrow(GET_ITEM, project, item_id, thread_id)
        return item_row(r) if r is not None else None

    @staticmethod
    def _item_args(project: str, row: ItemRow) -> tuple[Any, ...]:
        return (
            project,
            row.thread_id,
            row.id,
            row.created_us,
            row.shape,
            row.rest_type,
            row.payload,
        )

    async def insert_item(self, project: str, row: ItemRow) -> None:
        try:
            await self._write(INSERT_ITEM, *self._item_args(project, row))
        except asyncpg.UniqueViolationError:
            raise DuplicateId("item", row.id) from None

    async def upsert_item(self, project: str, row: ItemRow) -> None:
        # No row back: the id belongs to an item of another thread.
        done = await self._write_returning(UPSERT_ITEM, *self._item_args(project, row))
        if done is None:
            raise DuplicateId("item", row.id)

    async def delete_item(self, project: str, thread_id: str, item_id: str) -> bool:
        if _names_nothing(project, thread_id, item_id):
            return False
        status = await self._write(DELETE_ITEM, project, item_id, thread_id)
        return status != "DELETE 0"

    # -- attachments ---------------------------------------------------------------------

    async def put_attachment(
        self, project: str, attachment_id: str, user: str, thread_id: str | None, payload: str
    ) -> None:
        await self._write(PUT_ATTACHMENT, project, attachment_id, user, thread_id, payload)

    async def get_attachment(self, project: str, attachment_id: str) -> tuple[str, str] | None:
        r = await self._fetchrow(GET_ATTACHMENT, project, attachment_id)
        return (r[0], r[1]) if r is not None else None

    async def remove_attachment(self, project: str, attachment_id: str) -> bool:
        if _names_nothing(project, attachment_id):
            return False
        status = await self._write(REMOVE_ATTACHMENT, project, attachment_id)
        return status != "DELETE 0"

    async def list_thread_attachments(self, project: str, thread_id: str) -> list[str]:
        return [r[0] for r in await self._fetch(THREAD_ATTACHMENTS, project, thread_id)]

    # -- sessions ------------------------------------------------------------------------

    async def create_session(self, row: SessionRow, secret_hash: str) -> None:
        await self._write(
            CREATE_SESSION,
            row.project,
            row.id,
            row.user,
            secret_hash,
            row.secret_hint,
            row.created_at,
            row.expires_at,
            row.cancelled_at,
            dump_json(row.workflow),
            row.rate_limit,
            dump_json(row.configuration),
            row.files_used,
        )

    async def get_session(self, project: str, session_id: str) -> SessionRow | None:
        r = await self._fetchrow(GET_SESSION, project, session_id)
        return session_row(r) if r is not None else None

    async def find_session(self, secret_hash: str) -> SessionRow | None:
        r = await self._fetchrow(FIND_SESSION, secret_hash)
        return session_row(r) if r is not None else None

    async def cancel_session(self, project: str, session_id: str, at: int) -> bool:
        if _names_nothing(project, session_id):
            return False
        return await self._write(CANCEL_SESSION, project, session_id, at) != "UPDATE 0"

    async def take_request_slot(
        self, project: str, session_id: str, now_ms: int, limit: int, window_ms: int
    ) -> int | None:
        async def work(conn: asyncpg.Connection) -> int | None:
            async with conn.transaction():
                await conn.execute(LOCK_SESSION.sql, project, session_id)
                count, oldest = await conn.fetchrow(
                    TAKE_REQUEST_SLOT.sql, project, session_id, now_ms, limit, window_ms
                )
            if count >= limit:
                return max(1, oldest + window_ms - now_ms)
            return None

        return await self._run(work, idempotent=False)

    async def reserve_upload(self, project: str, session_id: str, max_files: int | None) -> bool:
        if _names_nothing(project, session_id):
            return False
        return await self._write(RESERVE_UPLOAD, project, session_id, max_files) != "UPDATE 0"

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
        await self._write(
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
            rows = await self._fetch(LIST_FEEDBACK, project, after, limit)
        else:
            rows = await self._fetch(LIST_USER_FEEDBACK, project, after, user, limit)
        return [feedback_row(r) for r in rows]

    # -- bulk ----------------------------------------------------------------------------

    async def import_rows(
        self, project: str, threads: Sequence[ThreadRow], items: Sequence[ItemRow]
    ) -> None:
        async def work(conn: asyncpg.Connection) -> None:
            table = "threads"
            try:
                async with conn.transaction():
                    # Only threads that already exist can have concurrent appenders; the
                    # new ones are invisible until commit. One lock per new thread would
                    # exhaust the lock table on a big import ("out of shared memory").
                    new = {t.id for t in threads}
                    existing = sorted({r.thread_id for r in items} - new)
                    if existing:
                        await conn.execute(IMPORT_LOCK_THREADS.sql, project, existing)
                    for batch in _batches(threads):
                        await conn.execute(
                            IMPORT_THREADS.sql,
                            project,
                            [t.id for t in batch],
                            [t.user for t in batch],
                            [t.created_us for t in batch],
                            [t.title for t in batch],
                            [dump_json(t.status) for t in batch],
                            [dump_json(t.extra) for t in batch],
                        )
                    table = "items"
                    for batch in _batches(items):
                        await conn.execute(
                            IMPORT_ITEMS.sql,
                            project,
                            [r.thread_id for r in batch],
                            [r.id for r in batch],
                            [r.created_us for r in batch],
                            [r.shape for r in batch],
                            [r.rest_type for r in batch],
                            [r.payload for r in batch],
                        )
            except asyncpg.UniqueViolationError:
                rows: Sequence[ThreadRow | ItemRow] = threads if table == "threads" else items
                taken = await _first_taken(conn, project, table, rows)
                raise DuplicateId(table.rstrip("s"), taken) from None

        await self._run(work, idempotent=False)

    # -- keys ----------------------------------------------------------------------------

    async def create_key(self, row: KeyRow, secret_hash: str) -> None:
        await self._write(
            CREATE_KEY, row.id, row.project, secret_hash, row.hint, row.created_at, row.revoked_at
        )

    async def find_key(self, secret_hash: str) -> KeyRow | None:
        r = await self._fetchrow(FIND_KEY, secret_hash)
        return key_row(r) if r is not None else None

    async def list_keys(self, project: str | None = None) -> list[KeyRow]:
        if project is None:
            rows = await self._fetch(LIST_KEYS)
        else:
            rows = await self._fetch(LIST_PROJECT_KEYS, project)
        return [key_row(r) for r in rows]

    async def revoke_key(self, key_id: str, revoked_at: int) -> bool:
        if _names_nothing(key_id):
            return False
        status = await self._write(REVOKE_KEY, key_id, revoked_at)
        return status != "SELECT 0"

    def keys_version(self) -> int | None:
        """How many key revocations this process was notified of, while it listens.

        ``None`` (the key service then caches nothing) behind a transaction-mode
        pooler (statement cache 0), where LISTEN does not hold, and while the listening
        connection is down; a new one is tried at most every few seconds.
        """
        listener = self._keys_listener
        if listener is not None and not listener.is_closed():
            return self._keys_changes
        loop = asyncio.get_running_loop()
        if (
            self._pool is not None
            and self.statement_cache_size
            and self._keys_retry_at <= loop.time()
        ):
            self._keys_retry_at = loop.time() + 5
            self._keys_task = loop.create_task(self._listen_for_key_changes())
        return None

    async def _listen_for_key_changes(self) -> None:
        failures = (*_UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError)
        try:
            conn = await asyncpg.connect(self.url, **self._connect_options())
        except failures:
            return  # no caching meanwhile; tried again later
        try:
            await conn.add_listener(KEYS_CHANNEL, self._on_keys_changed)
        except failures:
            conn.terminate()
            return
        # Revocations missed while nobody listened must not match old cache entries.
        self._keys_changes += 1
        self._keys_listener = conn

    def _on_keys_changed(self, *_: object) -> None:
        self._keys_changes += 1

    # -- keyset pagination ---------------------------------------------------------------

    async def _keyset(
        self, listing: Listing, scope: tuple[Any, ...], page: PageQuery
    ) -> tuple[list[asyncpg.Record], bool]:
        """One page of ``listing`` (see ``SQLiteStore._keyset`` for the walk)."""
        given = (("after", page.after), ("before", page.before))
        cursors = [(param, value) for param, value in given if value is not None]
        for param, value in cursors:
            if _names_nothing(value):
                raise CursorNotFound(param, value)
        if _names_nothing(*scope):
            if cursors:
                raise CursorNotFound(*cursors[0])
            return [], False
        query = listing.page(page.order, page.after is not None, page.before is not None)
        cursor_sql = listing.cursor().sql

        async def work(conn: asyncpg.Connection) -> tuple[list[asyncpg.Record], bool]:
            rows = await conn.fetch(query.sql, *scope, *(v for _, v in cursors), page.limit + 1)
            if not rows:
                for param, value in cursors:
                    if await conn.fetchval(cursor_sql, *scope, value) is None:
                        raise CursorNotFound(param, value)
            has_more = len(rows) > page.limit
            rows = rows[: page.limit]
            if page.before is not None and page.after is None:
                rows.reverse()
            return rows, has_more

        return await self._run(work, idempotent=True)


def _is_closed(conn: asyncpg.Connection) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # the pool has already taken back the dead connection
        return True


def _names_nothing(*values: object) -> bool:
    """Whether a key contains NUL: PostgreSQL text cannot hold one, so no stored row has
    it (the lookup finds nothing, as it would in SQLite) and sending it is an error."""
    return any(isinstance(v, str) and "\x00" in v for v in values)


def _unavailable(exc: BaseException) -> StoreUnavailable:
    detail = str(exc) or "timed out"
    return StoreUnavailable(f"PostgreSQL is unavailable ({type(exc).__name__}: {detail})")


async def _close(conn: asyncpg.Connection, timeout: float) -> None:
    try:
        await conn.close(timeout=timeout)
    except Exception:
        conn.terminate()


async def _first_taken(
    conn: asyncpg.Connection, project: str, table: str, rows: Sequence[ThreadRow | ItemRow]
) -> str:
    """The first id of ``rows`` already stored, or repeated among ``rows``."""
    stored = {
        r[0]
        for r in await conn.fetch(
            f"SELECT id FROM {table} WHERE project = $1 AND id = ANY($2::text[])",
            project,
            [row.id for row in rows],
        )
    }
    seen: set[str] = set()
    for row in rows:
        if row.id in seen or row.id in stored:
            return row.id
        seen.add(row.id)
    return rows[0].id if rows else ""
