"""Attachment bytes on local disk: ``<root>/<project digest>/<attachment id>``.

The project's folder is named by a digest of the project name (names are free-form
text, never trusted as path parts), and attachment ids are checked to be plain
tokens. An upload is written to a temporary file in the same folder and renamed
into place on commit, so readers see a whole file or none.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import BinaryIO

from . import FileStorage, FileWriter, is_attachment_id, project_folder

_CHUNK = 64 * 1024


class _LocalWriter(FileWriter):
    def __init__(self, final: Path, temp: Path, handle: BinaryIO) -> None:
        self.final = final
        self.temp = temp
        self.handle = handle

    async def write(self, chunk: bytes) -> None:
        await asyncio.to_thread(self.handle.write, chunk)

    async def commit(self) -> None:
        def finish() -> None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.temp, self.final)

        await asyncio.to_thread(finish)

    async def abort(self) -> None:
        def drop() -> None:
            self.handle.close()
            self.temp.unlink(missing_ok=True)

        await asyncio.to_thread(drop)


class LocalFileStorage(FileStorage):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, project: str, attachment_id: str) -> Path:
        if not is_attachment_id(attachment_id):
            raise ValueError(f"not an attachment id: {attachment_id!r}")
        return self.root / project_folder(project) / attachment_id

    async def writer(self, project: str, attachment_id: str) -> FileWriter:
        final = self.path(project, attachment_id)

        def start() -> tuple[Path, BinaryIO]:
            final.parent.mkdir(parents=True, exist_ok=True)
            temp = final.with_name(f".{attachment_id}.{secrets.token_hex(6)}.partial")
            return temp, temp.open("xb")

        temp, handle = await asyncio.to_thread(start)
        return _LocalWriter(final, temp, handle)

    async def size(self, project: str, attachment_id: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path(project, attachment_id).stat)).st_size
        except (FileNotFoundError, ValueError):
            return None

    async def read(self, project: str, attachment_id: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path(project, attachment_id).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, _CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, project: str, attachment_ids: Sequence[str]) -> None:
        paths = [self.path(project, a) for a in attachment_ids if is_attachment_id(a)]

        def remove() -> None:
            for path in paths:
                path.unlink(missing_ok=True)

        if paths:
            await asyncio.to_thread(remove)
