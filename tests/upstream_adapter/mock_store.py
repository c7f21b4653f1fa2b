"""``helpers.mock_store`` for openai-chatkit's own tests: their ``SQLiteStore(db_path)`` is
threadkit's store of the backend named by ``THREADKIT_UPSTREAM_BACKEND``.

Each upstream ``db_path`` (``file:NAME?mode=memory&cache=shared``) is a database of its
own: on SQLite the file ``NAME.db`` in ``THREADKIT_UPSTREAM_SQLITE_DIR``, on PostgreSQL
the project ``upstream_NAME`` in the database at ``THREADKIT_UPSTREAM_POSTGRES_URL``.
The same ``db_path`` is the same database, as upstream expects.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from threadkit import PostgresStore
from threadkit import SQLiteStore as ThreadkitSQLiteStore

BACKEND = os.environ.get("THREADKIT_UPSTREAM_BACKEND")
if BACKEND == "sqlite":
    Backend: type[Any] = ThreadkitSQLiteStore
elif BACKEND == "postgres":
    Backend = PostgresStore
else:
    raise RuntimeError(f"THREADKIT_UPSTREAM_BACKEND must be sqlite or postgres, not {BACKEND!r}")

#: stores made and not yet closed by ``close_stores``
_open_stores: list[Any] = []


def database_name(db_path: str) -> str:
    """``NAME`` of ``file:NAME?mode=memory&cache=shared``, safe as a file name."""
    name = db_path.removeprefix("file:").partition("?")[0]
    if not name:
        raise ValueError(f"no database name in {db_path!r}")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _location(db_path: str) -> tuple[str, str | None]:
    """The database URL and project (``None``: the default) for an upstream ``db_path``."""
    name = database_name(db_path)
    if BACKEND == "sqlite":
        folder = Path(os.environ["THREADKIT_UPSTREAM_SQLITE_DIR"])
        return f"sqlite:///{folder / f'{name}.db'}", None
    return os.environ["THREADKIT_UPSTREAM_POSTGRES_URL"], f"upstream_{name}"


class SQLiteStore(Backend):
    """threadkit's store for an upstream ``db_path`` (see the module docstring)."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        url, project = _location(db_path)
        super().__init__(url, **({} if project is None else {"project": project}))
        _open_stores.append(self)


async def close_stores() -> None:
    """Close every store made since the last call (the first failure is raised last)."""
    failure: BaseException | None = None
    while _open_stores:
        try:
            await _open_stores.pop().close()
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
