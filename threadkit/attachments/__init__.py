"""Where attachment bytes live: a small interface with two implementations, local disk
(``local.LocalFileStorage``) and any S3-compatible object store (``s3.S3FileStorage``).

Files are addressed by project and attachment id. A write goes through a
``FileWriter`` and becomes visible only when committed, so a reader never sees
half an upload. A storage that browsers can reach directly also hands out
presigned requests: an upload that skips threadkit, and a short-lived download URL.
"""

from __future__ import annotations

import abc
import hashlib
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from chatkit.types import AttachmentUploadDescriptor

_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def is_attachment_id(value: str) -> bool:
    """A plain token, safe as a path part or key part."""
    return _ID.fullmatch(value) is not None


def project_folder(project: str) -> str:
    """The folder (or key prefix) of a project's files: a digest, since project names
    are free-form text, never trusted as path parts."""
    return hashlib.sha256(project.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class FileInfo:
    size: int
    #: the type the file was stored with, where the storage keeps one
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class SignedURL:
    url: str
    #: seconds the URL stays valid
    expires_in: int


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

    async def info(self, project: str, attachment_id: str) -> FileInfo | None:
        """Size and stored type, or ``None`` if there is no file."""
        size = await self.size(project, attachment_id)
        return None if size is None else FileInfo(size)

    async def head(self, project: str, attachment_id: str, length: int) -> bytes:
        """The file's first ``length`` bytes (fewer if it is shorter)."""
        head = b""
        chunks = self.read(project, attachment_id)
        try:
            async for chunk in chunks:
                head += chunk[: length - len(head)]
                if len(head) >= length:
                    break
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        return head

    async def upload_descriptor(
        self, project: str, attachment_id: str, *, size: int, mime_type: str
    ) -> AttachmentUploadDescriptor | None:
        """A request that stores exactly ``size`` bytes of ``mime_type`` straight into
        the storage, or ``None``: the bytes go through threadkit's upload route."""
        return None

    async def download_url(
        self, project: str, attachment_id: str, *, mime_type: str, inline: bool
    ) -> SignedURL | None:
        """A short-lived URL serving the file as ``mime_type`` (``inline`` or as a
        download), or ``None``: threadkit serves the bytes itself."""
        return None

    async def close(self) -> None:
        """Release connections (the storage may be used again afterwards)."""
        return None


__all__ = [
    "FileInfo",
    "FileStorage",
    "FileWriter",
    "SignedURL",
    "is_attachment_id",
    "project_folder",
]
