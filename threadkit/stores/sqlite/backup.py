"""A consistent copy of a SQLite database while the server keeps writing to it."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

#: pages copied per step of the online backup (between progress reports)
STEP_PAGES = 1024


def backup(path: str, out: str, progress: Callable[[int, int], None] | None = None) -> int:
    """Copy the database at ``path`` to ``out`` with SQLite's online backup API; returns
    the number of pages copied. ``progress(copied, total)`` is called after each step.

    The copy is one snapshot: a read transaction held across the steps pins it, so
    commits of other connections meanwhile neither restart the copy nor appear in it.
    It is written beside ``out`` and renamed into place, so ``out`` is never half a copy.
    """
    if not Path(path).is_file():
        raise ValueError(f"no SQLite database at {path}")
    target = Path(out)
    partial = target.with_name(f".{target.name}.partial")
    source = sqlite3.connect(path, isolation_level=None)
    try:
        source.execute("PRAGMA busy_timeout = 10000")
        source.execute("BEGIN")
        source.execute("SELECT COUNT(*) FROM sqlite_schema").fetchone()
        partial.unlink(missing_ok=True)
        copy = sqlite3.connect(partial)
        try:

            def report(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            source.backup(copy, pages=STEP_PAGES, progress=report)
            pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
        finally:
            copy.close()
        source.execute("COMMIT")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    os.replace(partial, target)
    return pages
