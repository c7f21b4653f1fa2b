"""The PostgreSQL store's connection pool: opened on first use, bound to one event loop.

Failures to reach the database (restart, refused connection, pool exhausted,
timeouts) raise ``StoreUnavailable`` quickly; the pool replaces broken connections
by itself once the server is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from threadkit.stores.errors import StoreUnavailable, StoreUsageError

from .queries import Query

R = TypeVar("R")
log = logging.getLogger("threadkit.postgres")

UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connect, pool acquire, command timeout
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutting down, starting up, canceled
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, disk full
)


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


class Pool:
    """An asyncpg pool opened by the first call (after ``prepare``, the migration)."""

    def __init__(
        self,
        url: str,
        prepare: Callable[[], Awaitable[object]],
        *,
        pool_min: int,
        pool_max: int,
        statement_cache_size: int,
        connect_timeout: float,
        acquire_timeout: float,
        command_timeout: float,
    ) -> None:
        self.url = url
        self.pool_min = pool_min
        self.pool_max = pool_max
        self.statement_cache_size = statement_cache_size
        self.connect_timeout = connect_timeout
        self.acquire_timeout = acquire_timeout
        self.command_timeout = command_timeout
        self._prepare = prepare
        self._pool: asyncpg.Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    def usage(self) -> dict[str, int]:
        """Connections open, idle and allowed (for the metrics), without a query."""
        pool = self._pool
        if pool is None:
            return {"open": 0, "idle": 0, "max": self.pool_max}
        return {"open": pool.get_size(), "idle": pool.get_idle_size(), "max": self.pool_max}

    def connect_options(self) -> dict[str, Any]:
        return {
            "timeout": self.connect_timeout,
            "statement_cache_size": self.statement_cache_size,
            "server_settings": {"application_name": "threadkit"},
        }

    # -- opening and closing -------------------------------------------------------------

    async def ready(self) -> asyncpg.Pool:
        """The pool, opened first if needed; concurrent first calls share one opening."""
        loop = asyncio.get_running_loop()
        if self._closed:
            raise StoreUsageError("this PostgreSQL store is closed; make a new one to go on")
        if self._pool is not None:
            if self._loop is not loop:
                raise _other_loop()
            return self._pool
        task = self._opening
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = self._opening = loop.create_task(self._open())
        elif task.get_loop() is not loop:
            raise _other_loop()
        # Shielded: one caller giving up does not cancel the opening the others await.
        await asyncio.shield(task)
        if self._pool is None:  # closed while it opened
            raise StoreUsageError("this PostgreSQL store is closed; make a new one to go on")
        return self._pool

    async def _open(self) -> None:
        await self._prepare()
        try:
            pool = await asyncpg.create_pool(
                self.url,
                min_size=self.pool_min,
                max_size=self.pool_max,
                command_timeout=self.command_timeout,
                reset=_keep_session,
                **self.connect_options(),
            )
        except UNAVAILABLE as exc:
            raise unavailable(exc) from exc
        if self._closed:  # closed while it opened
            pool.terminate()
            return
        self._pool, self._loop = pool, asyncio.get_running_loop()

    async def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout=self.acquire_timeout)
        except (TimeoutError, *UNAVAILABLE):
            pool.terminate()

    # -- running statements --------------------------------------------------------------

    async def run(
        self, work: Callable[[asyncpg.Connection], Awaitable[R]], *, idempotent: bool
    ) -> R:
        """Run ``work`` on a pooled connection; connection trouble becomes ``StoreUnavailable``.

        A connection that died while idle in the pool fails the first statement sent on
        it: that is retried once for every call (nothing reached the server), and for
        ``idempotent`` calls also when the connection broke mid-statement.
        """
        pool = self._pool
        if pool is None or self._loop is not asyncio.get_running_loop():
            pool = await self.ready()
        for attempt in (1, 2):
            try:
                # asyncio.timeout, not acquire(timeout=): that one wraps every acquire
                # in a task of its own, which costs more than the wait it guards.
                async with asyncio.timeout(self.acquire_timeout):
                    conn = await pool.acquire()
            except (*UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # Whatever keeps us from connecting (down, pool closing, database
                # dropped, credentials changed) makes the database unavailable.
                raise unavailable(exc) from exc
            try:
                return await work(conn)
            except asyncpg.InterfaceError as exc:
                if not _is_closed(conn):
                    raise
                # A transaction block reports a connection lost mid-statement as this
                # error too, chained to the loss: that statement may have reached the
                # server, so only an idempotent call may run again.
                sent = isinstance(exc.__context__, UNAVAILABLE)
                if attempt == 1 and (idempotent or not sent):
                    continue
                raise unavailable(exc) from exc
            except asyncpg.CharacterNotInRepertoireError as exc:
                raise ValueError(f"PostgreSQL cannot store this text: {exc}") from exc
            except UNAVAILABLE as exc:
                broken = isinstance(exc, asyncpg.PostgresConnectionError | OSError)
                if attempt == 1 and idempotent and broken:
                    continue
                raise unavailable(exc) from exc
            finally:
                await self._release(pool, conn)
        raise AssertionError("unreachable")

    async def _release(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
        try:
            await pool.release(conn, timeout=self.acquire_timeout)
        except Exception as exc:
            # asyncpg terminated the connection; the pool opens a new one when needed.
            log.debug("dropped a broken PostgreSQL connection: %r", exc)

    async def fetchrow(self, query: Query, *args: Any) -> asyncpg.Record | None:
        if names_nothing(*args):
            return None
        return await self.run(lambda c: c.fetchrow(query.sql, *args), idempotent=True)

    async def fetch(self, query: Query, *args: Any) -> list[asyncpg.Record]:
        if names_nothing(*args):
            return []
        return await self.run(lambda c: c.fetch(query.sql, *args), idempotent=True)

    async def write(self, query: Query, *args: Any) -> str:
        """Run one write statement (its own transaction); returns the command status."""
        return await self.run(lambda c: c.execute(query.sql, *args), idempotent=False)

    async def write_returning(self, query: Query, *args: Any) -> asyncpg.Record | None:
        return await self.run(lambda c: c.fetchrow(query.sql, *args), idempotent=False)


def names_nothing(*values: object) -> bool:
    """Whether a key contains NUL: PostgreSQL text cannot hold one, so no stored row has
    it (the lookup finds nothing, as it would in SQLite) and sending it is an error."""
    return any(isinstance(v, str) and "\x00" in v for v in values)


def unavailable(exc: BaseException) -> StoreUnavailable:
    detail = str(exc) or "timed out"
    return StoreUnavailable(f"PostgreSQL is unavailable ({type(exc).__name__}: {detail})")


def _other_loop() -> StoreUsageError:
    return StoreUsageError(
        "this PostgreSQL store was opened on another event loop, and its connections belong"
        " to that loop: make one store per event loop"
    )


def _is_closed(conn: asyncpg.Connection) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # the pool has already taken back the dead connection
        return True


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset hook. asyncpg already rolls back an open transaction on release; threadkit
    sets no session state (only transaction-scoped locks), so the default reset query
    (an extra round trip per release) is not needed."""


async def close_quietly(conn: asyncpg.Connection, timeout: float) -> None:
    try:
        await conn.close(timeout=timeout)
    except Exception:
        conn.terminate()
