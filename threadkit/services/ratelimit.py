"""The per-session request limit: a sliding 60-second window, kept in the store.

Kept in the store rather than in memory so that every worker process (and every
machine over one PostgreSQL) shares one count per session. The store counts requests
per 100 ms bucket (``threadkit.stores.request_window``), so a check costs the same
under any load and a request leaves the window up to 100 ms after its minute, never
before. Refused requests are not recorded, so a client that keeps retrying too early
is not locked out for longer.
"""

from __future__ import annotations

import math
import time

from threadkit.stores import ThreadStore
from threadkit.stores.records import SessionRow

from .errors import RateLimited

WINDOW_MS = 60_000


class RateLimiter:
    def __init__(self, store: ThreadStore, window_ms: int = WINDOW_MS) -> None:
        self.store = store
        self.window_ms = window_ms

    async def admit(self, session: SessionRow) -> None:
        """Count one request of ``session``, or raise ``RateLimited`` with ``retry_after``."""
        wait_ms = await self.store.take_request_slot(
            session.project,
            session.id,
            int(time.time() * 1000),
            session.rate_limit,
            self.window_ms,
        )
        if wait_ms is not None:
            raise RateLimited(
                f"Rate limit reached for session '{session.id}': "
                f"{session.rate_limit} requests per minute. "
                f"Please try again in {wait_ms / 1000:.1f}s.",
                retry_after=max(1, math.ceil(wait_ms / 1000)),
                code="rate_limit_exceeded",
            )
