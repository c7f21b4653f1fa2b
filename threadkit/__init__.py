"""threadkit: a self-hosted ChatKit backend.

The REST API (wire-compatible with OpenAI's ``/v1/chatkit`` endpoints), the ChatKit
protocol endpoint and the thread stores (SQLite, PostgreSQL) live in subpackages:
``threadkit.api`` (HTTP), ``threadkit.services`` (domain rules) and ``threadkit.stores``.

The stores are a library of their own, for any ``ChatKitServer``::

    from threadkit import SQLiteStore, StoreContext

    store = SQLiteStore("chat.db")  # ready: the first call creates the schema
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from threadkit.stores import (
        DuplicateId,
        PostgresStore,
        SQLiteStore,
        StoreContext,
        StoreUnavailable,
        StoreUsageError,
        ThreadStore,
        open_store,
    )


def __getattr__(name: str) -> Any:
    # Lazily: ``import threadkit`` stays cheap (the CLI's start, the import helper).
    if name in _FROM_STORES:
        import threadkit.stores

        return getattr(threadkit.stores, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DuplicateId",
    "PostgresStore",
    "SQLiteStore",
    "StoreContext",
    "StoreUnavailable",
    "StoreUsageError",
    "ThreadStore",
    "__version__",
    "open_store",
]

#: what ``__getattr__`` imports from ``threadkit.stores`` on first use
_FROM_STORES = frozenset(__all__) - {"__version__"}
