"""Thread stores: one module per backend behind the interface in ``base``."""

from __future__ import annotations

from .base import ThreadStore


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
