"""Versioned, forward-only schema migrations: one numbered SQL file per step and backend.

``sqlite/0001_initial.sql`` and ``postgres/0001_initial.sql`` describe the same
version 1 for each backend. A store applies, in one transaction each and under a
database lock, every file whose number is above the recorded version.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        """The file's name without ``.sql``: ``0003_list_indexes``."""
        return f"{self.version:04d}_{self.name}"


def load(dialect: str) -> list[Migration]:
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
    return found


def latest_version(dialect: str) -> int:
    return len(load(dialect))
