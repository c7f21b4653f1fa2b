"""Where attachment bytes live: a small interface, so an object store can follow the
local-disk implementation (``local.LocalFileStorage``).

Files are addressed by project and attachment id. A write goes through a
``FileWriter`` and becomes visible only when committed, so a reader never sees
half an upload.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence


class FileWriter(abc.ABC):
    """One upload in progress."""

    @abc.abstractmethod
    async def write(self, chunk: bytes) -> None: ...

    @abc.abstractmethod
    async def commit(self) -> None:
        """Make the written bytes the file's content (replacing any earlier content)."""

    @abc.abstractmethod
    async def abort(self) -> None:
        """Drop what was written; the file is left as it was."""


class FileStorage(abc.ABC):
    @abc.abstractmethod
    async def writer(self, project: str, attachment_id: str) -> FileWriter: ...

    @abc.abstractmethod
    async def size(self, project: str, attachment_id: str) -> int | None:
        """The file's size in bytes, or ``None`` if there is no file."""

    @abc.abstractmethod
    def read(self, project: str, attachment_id: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks (raises ``FileNotFoundError`` if it is missing)."""

    @abc.abstractmethod
    async def delete(self, project: str, attachment_ids: Sequence[str]) -> None:
        """Remove these files; missing ones are ignored."""


__all__ = ["FileStorage", "FileWriter"]
