"""Indexing for search what bulk imports left for later, in the background of every
server process (and by ``threadkit import --index-now``).

A bulk import stores its rows without indexing them (``ThreadStore.import_rows``):
indexing made an import take 1.5 (SQLite) to 3.7 (PostgreSQL) times as long
(docs/performance.md). Here the store's backlog is worked off a chunk at a time, each
chunk its own short transaction, so live writes wait for one chunk at most. Many
processes may do it at once: each chunk is taken by one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from threadkit.stores import ThreadStore
from threadkit.stores.errors import StoreUnavailable

log = logging.getLogger("threadkit.search")

#: how often an idle indexer looks for new work (seconds)
IDLE_SECONDS = 1.0
#: the wait after a failed chunk (the database down, say)
RETRY_SECONDS = 10.0
#: the wait, while another process holds the chunk left, before looking again
HELD_SECONDS = 0.05


class SearchIndexer:
    """Works off ``store``'s search backlog (``run_forever``, ``catch_up``)."""

    def __init__(self, store: ThreadStore) -> None:
        self.store = store

    async def catch_up(self) -> int:
        """Index until nothing waits, chunks held by other processes included (they are
        waited for); how many seqs this process covered."""
        covered = 0
        while await self.store.search_backlog():
            done = await self.store.index_search_backlog()
            covered += done
            if not done:
                await asyncio.sleep(HELD_SECONDS)
        return covered

    async def run_forever(self) -> None:
        """A chunk after another while there is work, else a look every ``IDLE_SECONDS``."""
        indexed = 0
        while True:
            try:
                done = await self.store.index_search_backlog()
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as exc:
                # An outage (a restart, say), not a fault of the indexing: one line, as the
                # requests it fails meanwhile log it.
                log.warning("search indexing paused: %s; trying again in %g s", exc, RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except Exception:
                log.warning("search indexing failed; trying again later", exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if done:
                indexed += done
                await asyncio.sleep(0)  # requests waiting on the event loop go first
                continue
            if indexed:
                log.info("search: indexed what bulk imports left (%d rows at most)", indexed)
                indexed = 0
            await asyncio.sleep(IDLE_SECONDS)

    def start(self) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(self.run_forever())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
