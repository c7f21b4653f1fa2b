"""Thread stores: one module per backend behind the interface in ``base``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import ThreadStore


def __getattr__(name: str) -> Any:
    # Lazily, so that a module of this package can be imported without the protocol
    # models (the SQLite import's helper process starts with only ``sqlite_bulk``).
    if name == "ThreadStore":
        from .base import ThreadStore

        return ThreadStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url: str, **options: object) -> ThreadStore:
    """The store for a database URL: ``sqlite:///path`` or ``postgresql://...``.

    The store is not connected yet: call ``await store.open()``.
    """
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(url, **options)  # type: ignore[arg-type]
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///path/to/file.db or postgresql://..."
    )


__all__ = ["ThreadStore", "open_store"]
