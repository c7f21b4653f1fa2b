"""The SQLite backend: ``SQLiteStore`` (store), its connections, migrations, pages and
bulk import. ``bulk`` is importable alone: the import's helper process runs only it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import SQLiteStore, sqlite_path


def __getattr__(name: str) -> Any:
    # Lazily: importing ``threadkit.stores.sqlite.bulk`` must not import the store.
    if name in ("SQLiteStore", "sqlite_path"):
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SQLiteStore", "sqlite_path"]
