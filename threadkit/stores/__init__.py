"""Thread stores: the interface (``base``, ``chatkit_store``) and one package per backend.

``SQLiteStore`` and ``PostgresStore`` are ``chatkit.store.Store`` implementations
usable in any ``ChatKitServer``, and the storage behind ``threadkit serve``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .context import DEFAULT_PROJECT, StoreContext
from .errors import CursorNotFound, DuplicateId, StoreUnavailable, StoreUsageError

if TYPE_CHECKING:
    from .chatkit_store import ThreadStore
    from .postgres import PostgresStore
    from .sqlite import SQLiteStore

# Imported on first use, so that a module of this package can be imported without the
# protocol models (the SQLite import's helper process runs only ``sqlite.bulk``) and
# without asyncpg.
_LAZY = {
    "ThreadStore": ("chatkit_store", "ThreadStore"),
    "SQLiteStore": ("sqlite.store", "SQLiteStore"),
    "PostgresStore": ("postgres.store", "PostgresStore"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        return getattr(import_module(f"{__name__}.{module}"), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url: str | Path, **options: Any) -> ThreadStore:
    """The store for a database URL: ``sqlite:///path`` (or a plain file path) or
    ``postgresql://...``; ``options`` go to the store's constructor. The store opens
    itself on first use (or on ``await store.open()``)."""
    url = str(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres.store import PostgresStore

        return PostgresStore(url, **options)
    if url.startswith("sqlite:///") or "://" not in url:
        from .sqlite.store import SQLiteStore

        return SQLiteStore(url, **options)
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///path/to/file.db or postgresql://..."
    )


__all__ = [
    "DEFAULT_PROJECT",
    "CursorNotFound",
    "DuplicateId",
    "PostgresStore",
    "SQLiteStore",
    "StoreContext",
    "StoreUnavailable",
    "StoreUsageError",
    "ThreadStore",
    "open_store",
]
