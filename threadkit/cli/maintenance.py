"""``threadkit prune`` and ``threadkit backup``: the maintenance commands."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn

from threadkit.cli.options import db_option, err, with_store
from threadkit.config import Settings, database_url
from threadkit.stores import ThreadStore


@click.command()
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(1),
    default=None,
    metavar="DAYS",
    help="Delete threads inactive for more than DAYS days (default: the config file's "
    "[retention]; without one, no threads).",
)
@click.option("--project", default=None, help="Only this project's threads (default: all).")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; remove nothing.")
@click.option(
    "--config",
    "config",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="TOML file with [maintenance] and [retention] (default: $THREADKIT_CONFIG).",
)
@click.option("--attachments-dir", default=None, metavar="DIR", help="As for serve.")
@click.option("--attachments-url", default=None, metavar="URL", help="As for serve.")
@db_option
def prune(
    older_than: int | None,
    project: str | None,
    dry_run: bool,
    config: str | None,
    attachments_dir: str | None,
    attachments_url: str | None,
    db: str | None,
) -> None:
    """Remove ended sessions, unfinished uploads and threads past their retention."""
    from threadkit.api.chatkit import file_storage
    from threadkit.services.maintenance import Maintenance, describe

    for name, value in (
        ("THREADKIT_CONFIG", config and str(Path(config).resolve())),
        ("THREADKIT_ATTACHMENTS_DIR", attachments_dir and str(Path(attachments_dir).resolve())),
        ("THREADKIT_ATTACHMENTS_URL", attachments_url),
    ):
        if value:
            os.environ[name] = value
    try:
        settings = Settings.from_env(db)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"configuration: {exc}") from None

    async def work(store: ThreadStore) -> Any:
        files = file_storage(settings)
        maintenance = Maintenance(store, files, settings.maintenance)
        try:
            now = time.time()
            counts = await maintenance.prune_sessions(now, dry_run=dry_run)
            counts.update(await maintenance.prune_uploads(now, dry_run=dry_run))
            counts.update(
                await maintenance.retention(now, days=older_than, project=project, dry_run=dry_run)
            )
            return counts
        finally:
            await files.close()

    click.echo(describe(with_store(settings.database_url, work), dry_run))


@click.command()
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The copy."
)
@db_option
def backup(out: Path, db: str | None) -> None:
    """Copy a SQLite database consistently, even while a server writes to it."""
    from threadkit.stores.sqlite.backup import backup as sqlite_backup
    from threadkit.stores.sqlite.store import sqlite_path

    url = database_url(db)
    if url.startswith(("postgresql://", "postgres://")):
        raise click.ClickException(
            "threadkit backup copies SQLite databases; back up PostgreSQL with pg_dump, "
            f"e.g. pg_dump --format=custom --file {out} '{url}' (docs/operations.md)"
        )
    bar = _Steps("backing up") if sys.stderr.isatty() else None
    try:
        pages = sqlite_backup(sqlite_path(url), str(out), bar.advance if bar else None)
    except (ValueError, sqlite3.Error, OSError) as exc:
        raise click.ClickException(f"backup failed: {exc}") from None
    finally:
        if bar is not None:
            bar.stop()
    if bar is not None:
        err.print(f"backed up {url} to {out} ({pages} pages)")


class _Steps:
    """A progress bar of pages copied, on a terminal's stderr."""

    def __init__(self, label: str) -> None:
        self.bar = Progress(
            TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total} pages"),
            console=err, transient=True,
        )  # fmt: skip
        self.task = self.bar.add_task(label, total=None)
        self.bar.start()

    def advance(self, copied: int, total: int) -> None:
        self.bar.update(self.task, completed=copied, total=total)

    def stop(self) -> None:
        self.bar.stop()
