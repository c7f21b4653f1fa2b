"""The row-level interface of maintenance: bounded steps that prune what is no longer needed.

Each call examines at most ``limit`` rows, in key order from ``cursor``, and returns
where the next call starts (``None``: the walk is done). Deletes are by key and
re-check their condition, so steps of several processes may overlap harmlessly: a
row another process removed first is simply not counted twice. Which rows are due
(grace periods, retention) is decided by ``threadkit.services.maintenance``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: where a walk goes on: the key of the last row examined
Cursor = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class PruneStep:
    """What one step removed (or, on a dry run, would remove), by table, and where the
    next step starts. ``files`` are ``(project, attachment_id)`` whose bytes are to go."""

    counts: dict[str, int] = field(default_factory=dict)
    files: list[tuple[str, str]] = field(default_factory=list)
    cursor: Cursor | None = None


@dataclass(frozen=True, slots=True)
class AttachmentRecord:
    project: str
    id: str
    payload: str


class MaintenanceRows(abc.ABC):
    """The store methods behind ``threadkit prune`` and the background maintenance."""

    @abc.abstractmethod
    async def prune_sessions(
        self, ended_before: int, cursor: Cursor | None, limit: int, *, dry_run: bool = False
    ) -> PruneStep:
        """Among the next ``limit`` sessions (all projects, in key order), remove those
        that expired or were cancelled before ``ended_before`` (Unix seconds), with their
        rate-limit rows. Counts ``sessions`` and ``rate_limit_rows``."""

    @abc.abstractmethod
    async def scan_attachments(
        self, cursor: Cursor | None, limit: int
    ) -> tuple[list[AttachmentRecord], Cursor | None]:
        """The next ``limit`` attachment records (all projects, in key order)."""

    @abc.abstractmethod
    async def remove_attachments_unchanged(
        self, records: Sequence[AttachmentRecord]
    ) -> list[AttachmentRecord]:
        """Remove each record whose stored payload is still the one given; returns those
        removed (one changed or gone since it was read is left alone)."""

    @abc.abstractmethod
    async def thread_projects(self) -> list[str]:
        """Every project that holds threads, in order."""

    @abc.abstractmethod
    async def prune_threads(
        self,
        project: str,
        inactive_before_us: int,
        cursor: Cursor | None,
        limit: int,
        *,
        dry_run: bool = False,
    ) -> PruneStep:
        """Among the project's next ``limit`` threads created before ``inactive_before_us``
        (in creation order), remove those with no item created since, with their items,
        feedback and attachment records (their bytes are in ``files``). Counts
        ``threads``, ``items``, ``feedback`` and ``attachments``."""
