"""Maintenance: pruning what is no longer needed, by hand (``threadkit prune``) or in the
background of every server process.

* Sessions that expired or were cancelled more than a grace period ago, with their
  rate-limit rows.
* Uploads never completed: attachment records whose bytes were never committed
  (``metadata.uploaded`` still false), created more than a grace period ago; the
  record goes first, then any bytes (an upload finishing meanwhile finds no record
  and drops its bytes itself).
* Retention: threads whose last activity (the newest of their creation and their
  items' creation) is older than their project's retention period, with their items,
  feedback, attachment records and bytes.

Every step is bounded (``batch_size`` rows per statement) and safe to run in several
processes at once (see ``threadkit.stores.maintenance``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import orjson

from threadkit.attachments import FileStorage
from threadkit.config import MaintenanceSettings
from threadkit.stores import ThreadStore
from threadkit.stores.maintenance import AttachmentRecord, PruneStep

log = logging.getLogger("threadkit.maintenance")

#: how the counts read, in the order reported
LABELS = {
    "sessions": ("session", "sessions"),
    "rate_limit_rows": ("rate-limit row", "rate-limit rows"),
    "uploads": ("unfinished upload", "unfinished uploads"),
    "threads": ("thread", "threads"),
    "items": ("item", "items"),
    "feedback": ("feedback", "feedback"),
    "attachments": ("attachment", "attachments"),
}


def describe(counts: Counter[str], dry_run: bool = False) -> str:
    """``"removed 2 sessions, 1 thread, 4 items"`` (every count, zeros included)."""
    parts = [f"{counts[k]} {LABELS[k][counts[k] != 1]}" for k in LABELS]
    return f"{'would remove' if dry_run else 'removed'} {', '.join(parts)}"


class Maintenance:
    def __init__(
        self,
        store: ThreadStore,
        files: FileStorage | None,
        settings: MaintenanceSettings | None = None,
    ) -> None:
        self.store = store
        self.files = files
        self.settings = settings or MaintenanceSettings()

    # -- the parts --

    async def prune_sessions(self, now: float, *, dry_run: bool = False) -> Counter[str]:
        ended_before = int(now) - self.settings.session_grace_hours * 3600
        counts: Counter[str] = Counter()
        cursor = None
        while True:
            step = await self.store.prune_sessions(
                ended_before, cursor, self.settings.batch_size, dry_run=dry_run
            )
            counts.update(step.counts)
            if (cursor := step.cursor) is None:
                return counts

    async def prune_uploads(self, now: float, *, dry_run: bool = False) -> Counter[str]:
        created_before = int(now) - self.settings.upload_grace_hours * 3600
        counts: Counter[str] = Counter(uploads=0)
        cursor = None
        while True:
            records, cursor = await self.store.scan_attachments(cursor, self.settings.batch_size)
            due = [r for r in records if await self._never_completed(r, created_before)]
            if dry_run:
                counts["uploads"] += len(due)
            else:
                gone = await self.store.remove_attachments_unchanged(due)
                counts["uploads"] += len(gone)
                await self._delete_files((r.project, r.id) for r in gone)
            if cursor is None:
                return counts

    async def _never_completed(self, record: AttachmentRecord, created_before: int) -> bool:
        try:
            meta: dict[str, Any] = orjson.loads(record.payload).get("metadata") or {}
        except (orjson.JSONDecodeError, AttributeError):
            return False
        if meta.get("uploaded") is not False:
            return False  # uploaded, or not made by threadkit's two-phase upload
        created = meta.get("created_at")
        if isinstance(created, int):
            return created < created_before
        # Made before uploads recorded their creation: as old as their session.
        session_id = meta.get("session")
        if not isinstance(session_id, str):
            return False
        session = await self.store.get_session(record.project, session_id)
        return session is None or session.created_at < created_before

    async def prune_threads(
        self, project: str, days: int, now: float, *, dry_run: bool = False
    ) -> Counter[str]:
        """Delete the project's threads inactive for more than ``days`` days."""
        inactive_before_us = int((now - days * 86400) * 1_000_000)
        counts: Counter[str] = Counter(threads=0)
        cursor = None
        while True:
            step: PruneStep = await self.store.prune_threads(
                project, inactive_before_us, cursor, self.settings.batch_size, dry_run=dry_run
            )
            counts.update(step.counts)
            await self._delete_files(step.files)
            if (cursor := step.cursor) is None:
                return counts

    async def retention(
        self,
        now: float,
        *,
        days: int | None = None,
        project: str | None = None,
        dry_run: bool = False,
    ) -> Counter[str]:
        """Apply retention: ``days`` to ``project`` (every project when ``None``), or,
        without ``days``, each project's configured period."""
        counts: Counter[str] = Counter()
        projects = [project] if project is not None else await self.store.thread_projects()
        for name in projects:
            period = days if days is not None else self.settings.retention_for(name)
            if period:
                counts.update(await self.prune_threads(name, period, now, dry_run=dry_run))
        return counts

    async def run_once(self, now: float | None = None, *, dry_run: bool = False) -> Counter[str]:
        """Everything due: sessions, unfinished uploads, configured retention."""
        now = time.time() if now is None else now
        counts = await self.prune_sessions(now, dry_run=dry_run)
        counts.update(await self.prune_uploads(now, dry_run=dry_run))
        counts.update(await self.retention(now, dry_run=dry_run))
        return counts

    async def _delete_files(self, files: Iterable[tuple[str, str]]) -> None:
        if self.files is None:
            return
        by_project: defaultdict[str, list[str]] = defaultdict(list)
        for project, attachment_id in files:
            by_project[project].append(attachment_id)
        for project, ids in by_project.items():
            await self.files.delete(project, ids)

    # -- in the background --

    async def run_forever(self) -> None:
        """``run_once`` every ``interval_seconds``, each wait stretched by up to half at
        random so that many processes started together do not prune in step."""
        interval = self.settings.interval_seconds
        while True:
            await asyncio.sleep(interval * (1 + random.random() / 2))
            try:
                counts = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("maintenance run failed; trying again later", exc_info=True)
                continue
            if any(counts.values()):
                log.info("maintenance: %s", describe(counts))

    def start(self) -> asyncio.Task[None] | None:
        """The background task (``None`` when ``interval_seconds`` is 0)."""
        if self.settings.interval_seconds <= 0:
            return None
        return asyncio.get_running_loop().create_task(self.run_forever())


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
