"""What a store raises, apart from the protocol's ``NotFoundError``. Kept free of heavy
imports: the SQLite import's helper process raises ``DuplicateId`` too."""

from __future__ import annotations

from typing import Any


class CursorNotFound(Exception):
    """A pagination cursor names no element of the list being paged."""

    def __init__(self, param: str, value: str) -> None:
        super().__init__(f"{param}={value!r}")
        self.param = param
        self.value = value


class DuplicateId(Exception):
    """An id is already taken within the project."""

    def __init__(self, kind: str, value: str) -> None:
        super().__init__(f"{kind} id {value!r} already exists")
        self.kind = kind
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:  # raised in a helper process, re-raised here
        return (DuplicateId, (self.kind, self.value))


class StoreUnavailable(Exception):
    """The database cannot be reached right now (restart, network); retry later."""


class StoreFull(StoreUnavailable):
    """The database's disk is full: nothing of the failed write was kept; reads go on,
    and writes work again once space is freed."""


class StoreUsageError(RuntimeError):
    """The store is used in a way it cannot serve: after ``close()``, or from an event
    loop other than the one it was opened on. A bug in the caller, not in the data."""
