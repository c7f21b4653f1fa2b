"""Versioned, forward-only schema migrations: one numbered SQL file per step and backend.

``sqlite/0001_initial.sql`` and ``postgres/0001_initial.sql`` describe the same
version 1 for each backend. A store applies, in one transaction and under a
database lock, every file whose number is above the recorded version
(``pending``), recording each in ``schema_migrations``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

#: the table that records the applied versions (same columns on both backends)
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
)
CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        """The file's name without ``.sql``: ``0003_list_indexes``."""
        return f"{self.version:04d}_{self.name}"


@functools.cache
def load(dialect: str) -> tuple[Migration, ...]:
    """The migrations of ``dialect`` (``"sqlite"`` or ``"postgres"``), in version order."""
    folder = resources.files(__package__).joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} migrations are not numbered 1..N without gaps")
    return tuple(found)


def pending(dialect: str, version: int) -> list[Migration]:
    """The migrations above ``version``, to apply in order."""
    return [m for m in load(dialect) if m.version > version]


def latest_version(dialect: str) -> int:
    return len(load(dialect))
