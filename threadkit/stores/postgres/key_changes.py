"""Key revocations heard over LISTEN/NOTIFY, so API-key lookups can be cached safely."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from .connections import UNAVAILABLE
from .queries import KEYS_CHANNEL


class KeyChanges:
    """Counts the key revocations this process was notified of while it listens."""

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        self.url = url
        self.options = options
        self._listener: asyncpg.Connection | None = None
        self._changes = 0
        self._retry_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def version(self, may_listen: bool) -> int | None:
        """The count while listening; ``None`` (cache nothing) while not. A new listening
        connection is tried at most every few seconds when ``may_listen``."""
        listener = self._listener
        if listener is not None and not listener.is_closed():
            return self._changes
        loop = asyncio.get_running_loop()
        if may_listen and self._retry_at <= loop.time():
            self._retry_at = loop.time() + 5
            self._task = loop.create_task(self._listen())
        return None

    async def _listen(self) -> None:
        failures = (*UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError)
        try:
            conn = await asyncpg.connect(self.url, **self.options)
        except failures:
            return  # no caching meanwhile; tried again later
        try:
            await conn.add_listener(KEYS_CHANNEL, self._on_change)
        except failures:
            conn.terminate()
            return
        # Revocations missed while nobody listened must not match old cache entries.
        self._changes += 1
        self._listener = conn

    def _on_change(self, *_: object) -> None:
        self._changes += 1

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if listener is not None:
            listener.terminate()
