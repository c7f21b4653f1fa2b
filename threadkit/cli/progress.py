"""Progress on a terminal's stderr for the long commands; silent when it is not one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from threadkit.services.sync import SyncStats


class ByteProgress:
    """A progress bar on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self, console: Console, label: str, total: int | None) -> None:
        self.bar: Progress | None = None
        if sys.stderr.isatty():
            columns: list[Any] = [TextColumn(label), BarColumn()]
            columns += (
                [DownloadColumn(), TimeRemainingColumn()]
                if total
                else [TextColumn("{task.completed} lines")]
            )
            self.bar = Progress(*columns, console=console, transient=True)
            self.task = self.bar.add_task(label, total=total)

    def __enter__(self) -> Callable[[int], None]:
        if self.bar is None:
            return lambda _n: None
        self.bar.start()
        bar, task = self.bar, self.task
        return lambda n: bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


class SyncProgress:
    """Threads, items and items per second on a terminal's stderr; silent otherwise."""

    def __init__(self, console: Console) -> None:
        self.bar: Progress | None = None
        if sys.stderr.isatty():
            self.bar = Progress(
                SpinnerColumn(),
                TextColumn("syncing {task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self.task = self.bar.add_task("", total=None)

    def update(self, stats: SyncStats) -> None:
        if self.bar is not None:
            self.bar.update(
                self.task,
                description=f"{stats.threads_seen} threads ({stats.threads_new} new,"
                f" {stats.threads_updated} updated), {stats.items_copied} items,"
                f" {stats.items_per_second:,.0f} items/s",
            )

    def __enter__(self) -> SyncProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
