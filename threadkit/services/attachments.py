"""Attachments: the protocol's two-phase upload, previews and removal of the bytes.

1. ``attachments.create`` (``create``) checks the declared name, size and MIME type
   against the session's ``file_upload`` settings and returns the attachment with an
   upload URL: on threadkit itself, carrying a one-time upload token, or, when the
   file storage takes uploads directly (an object store), its presigned request.
2. The client sends the bytes there. Through threadkit (``receive``) they must match
   the declared size and type, or nothing is kept. Sent to the storage, they are
   checked the same way before the attachment is first used (``check_ready``,
   ``open_preview``): a mismatch removes them, and the upload may be tried again.

Image attachments get a ``preview_url`` on threadkit carrying a preview token; the
preview is served to whoever holds that URL, or to the owner's session
(``open_preview``), by threadkit or by a redirect to a short-lived storage URL.
Tokens and upload state live in the attachment's ``metadata``, which ChatKit never
sends to clients.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from chatkit.types import (
    Attachment,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from pydantic import TypeAdapter

from threadkit import ids
from threadkit.attachments import FileStorage, SignedURL
from threadkit.stores import ThreadStore
from threadkit.stores.records import SessionRow

from .errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge

MEGABYTE = 1024 * 1024
MAX_NAME = 512
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_ATTACHMENT: TypeAdapter[Any] = TypeAdapter(Attachment)
#: bytes read to check a file's content against its declared type
_SNIFF = 16
#: leading bytes of the image types a browser renders, checked on upload
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
#: the image types a preview from an object store shows in place (all checked on upload)
_RASTER = frozenset((*_SIGNATURES, "image/webp"))


def base_type(mime_type: str | None) -> str:
    """``"Text/Plain; charset=utf-8"`` -> ``"text/plain"``."""
    return (mime_type or "").split(";", 1)[0].strip().lower()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _looks_like(mime: str, head: bytes) -> bool:
    if mime == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    signatures = _SIGNATURES.get(mime)
    return signatures is None or head.startswith(signatures)


@dataclass(frozen=True, slots=True)
class Preview:
    """An image's bytes, or where the client is sent for them (``redirect``)."""

    mime_type: str
    size: int | None = None
    chunks: AsyncIterator[bytes] | None = None
    redirect: SignedURL | None = None


class AttachmentService:
    def __init__(self, store: ThreadStore, files: FileStorage) -> None:
        self.store = store
        self.files = files

    async def _load(self, project: str, attachment_id: str) -> tuple[str, Attachment] | None:
        found = await self.store.get_attachment(project, attachment_id)
        if found is None:
            return None
        return found[0], _ATTACHMENT.validate_json(found[1])

    # -- phase 1 --

    async def create(
        self,
        *,
        project: str,
        user: str,
        session: SessionRow | None,
        limits: dict[str, Any],
        base_url: str,
        name: str,
        size: int,
        mime_type: str,
    ) -> Attachment:
        """A new attachment awaiting its bytes (not stored here: the caller saves it)."""
        if not limits.get("enabled"):
            raise InvalidRequest(
                "File uploads are disabled for this session. Enable them with "
                "chatkit_configuration.file_upload.enabled when creating the session.",
                code="file_uploads_disabled",
            )
        if not name or len(name) > MAX_NAME:
            raise InvalidRequest(
                f"Invalid 'params.name': expected 1 to {MAX_NAME} characters.",
                param="params.name",
                code="invalid_value",
            )
        mime = base_type(mime_type)
        if not _MIME.fullmatch(mime):
            raise InvalidRequest(
                f"Invalid 'params.mime_type': '{mime_type[:100]}' is not a MIME type.",
                param="params.mime_type",
                code="invalid_value",
            )
        max_bytes = int(limits.get("max_file_size") or 512) * MEGABYTE
        if size < 0:
            raise InvalidRequest(
                "Invalid 'params.size': expected a size in bytes >= 0.",
                param="params.size",
                code="invalid_value",
            )
        if size > max_bytes:
            raise InvalidRequest(
                f"Invalid 'params.size': the file is too large ({size} bytes); this "
                f"session accepts files up to {max_bytes // MEGABYTE} MB.",
                param="params.size",
                code="file_too_large",
            )
        if session is not None and not await self.store.reserve_upload(
            project, session.id, limits.get("max_files")
        ):
            raise InvalidRequest(
                f"This session may upload at most {limits.get('max_files')} files.",
                code="too_many_files",
            )
        attachment_id = ids.new_attachment_id()
        preview_token = secrets.token_urlsafe(32)
        base = f"{base_url}/chatkit/attachments/{attachment_id}"
        direct = await self.files.upload_descriptor(
            project, attachment_id, size=size, mime_type=mime_type
        )
        upload_token = None if direct else secrets.token_urlsafe(32)
        descriptor = direct or AttachmentUploadDescriptor(
            url=f"{base}/upload?{urlencode({'project': project, 'token': upload_token})}",
            method="POST",
        )
        common: dict[str, Any] = {
            "id": attachment_id,
            "name": name,
            "mime_type": mime_type,
            "upload_descriptor": descriptor,
            "metadata": {
                "size": size,
                "upload_token": _digest(upload_token) if upload_token else None,
                "preview_token": preview_token,
                "uploaded": False,
                "direct": direct is not None,
                "session": session.id if session else None,
                # when never-completed uploads may be pruned (services.maintenance)
                "created_at": int(time.time()),
            },
        }
        if mime.startswith("image/"):
            preview = f"{base}/preview?{urlencode({'project': project, 'token': preview_token})}"
            return ImageAttachment(**common, preview_url=preview)  # type: ignore[arg-type]
        return FileAttachment(**common)

    # -- phase 2 --

    async def _pending(
        self, project: str, attachment_id: str, token: str
    ) -> tuple[str, Attachment, dict[str, Any]]:
        found = await self._load(project, attachment_id)
        meta = (found[1].metadata or {}) if found else {}
        expected = str(meta.get("upload_token") or "")
        if found is None or not expected or not hmac.compare_digest(expected, _digest(token)):
            raise NotFound(f"No pending upload found for attachment '{attachment_id}'.")
        if meta.get("uploaded"):
            raise Conflict(
                f"The attachment '{attachment_id}' was already uploaded.", code="already_uploaded"
            )
        return found[0], found[1], meta

    async def declared_size(self, project: str, attachment_id: str, token: str) -> int:
        """The size declared for a pending upload (``NotFound`` for a wrong token)."""
        _, _, meta = await self._pending(project, attachment_id, token)
        return int(meta.get("size", 0))

    async def receive(
        self,
        project: str,
        attachment_id: str,
        token: str,
        content_type: str | None,
        chunks: AsyncIterator[bytes],
    ) -> Attachment:
        """Store the bytes of a pending upload; they must match the declared size and type."""
        owner, attachment, meta = await self._pending(project, attachment_id, token)
        declared = base_type(attachment.mime_type)
        sent = base_type(content_type)
        if sent and sent != "application/octet-stream" and sent != declared:
            raise InvalidRequest(
                f"The file's type '{sent}' does not match the declared type '{declared}'.",
                code="mime_type_mismatch",
            )
        size = int(meta.get("size", 0))
        writer = await self.files.writer(project, attachment_id)
        received = 0
        head = b""
        try:
            async for chunk in chunks:
                received += len(chunk)
                if received > size:
                    raise PayloadTooLarge(
                        f"The upload is larger than the declared size of {size} bytes.",
                        code="file_too_large",
                    )
                if len(head) < _SNIFF:
                    head += chunk[: _SNIFF - len(head)]
                await writer.write(chunk)
            if received != size:
                raise InvalidRequest(
                    f"The upload has {received} bytes, but {size} were declared.",
                    code="size_mismatch",
                )
            if not _looks_like(declared, head):
                raise InvalidRequest(
                    f"The file's content is not of the declared type '{declared}'.",
                    code="mime_type_mismatch",
                )
        except BaseException:
            await writer.abort()
            raise
        await writer.commit()
        return await self._mark_uploaded(project, owner, attachment)

    async def _mark_uploaded(self, project: str, owner: str, attachment: Attachment) -> Attachment:
        metadata = {**(attachment.metadata or {}), "uploaded": True}
        done = attachment.model_copy(update={"upload_descriptor": None, "metadata": metadata})
        if await self.store.get_attachment(project, attachment.id) is None:
            # Deleted while the bytes were arriving: keep nothing.
            await self.files.delete(project, [attachment.id])
            raise NotFound(f"No pending upload found for attachment '{attachment.id}'.")
        await self.store.put_attachment(
            project, attachment.id, owner, done.thread_id, done.model_dump_json()
        )
        return done

    async def _confirm_direct(
        self, project: str, owner: str, attachment: Attachment, param: str | None = None
    ) -> Attachment | None:
        """A direct upload's bytes, checked as ``receive`` checks them: the attachment
        marked uploaded, ``None`` while nothing was stored, or ``InvalidRequest`` (the
        bytes removed) when they are not what was declared."""
        meta = attachment.metadata or {}
        found = await self.files.info(project, attachment.id)
        if found is None:
            return None
        declared = base_type(attachment.mime_type)
        size = int(meta.get("size", 0))
        problem: InvalidRequest | None = None
        stored = base_type(found.content_type)
        if found.size != size:
            problem = InvalidRequest(
                f"The upload has {found.size} bytes, but {size} were declared; it was removed.",
                param=param,
                code="size_mismatch",
            )
        elif stored and stored != "application/octet-stream" and stored != declared:
            problem = InvalidRequest(
                f"The file's type '{stored}' does not match the declared type '{declared}'; "
                "it was removed.",
                param=param,
                code="mime_type_mismatch",
            )
        elif not _looks_like(declared, await self.files.head(project, attachment.id, _SNIFF)):
            problem = InvalidRequest(
                f"The file's content is not of the declared type '{declared}'; it was removed.",
                param=param,
                code="mime_type_mismatch",
            )
        if problem is not None:
            await self.files.delete(project, [attachment.id])
            raise problem
        return await self._mark_uploaded(project, owner, attachment)

    async def check_ready(self, project: str, user: str, attachment_id: str) -> None:
        """Refuse (404, 400) an attachment that is not the user's or has no bytes yet
        (or, uploaded to the storage directly, bytes other than those declared)."""
        found = await self._load(project, attachment_id)
        if found is None or found[0] != user:
            raise NotFound(f"No attachment found with id '{attachment_id}'.")
        owner, attachment = found
        meta = attachment.metadata or {}
        if meta.get("uploaded"):
            return
        param = "params.input.attachments"
        if meta.get("direct") and await self._confirm_direct(project, owner, attachment, param):
            return
        raise InvalidRequest(
            f"The attachment '{attachment_id}' has not been uploaded yet.",
            param=param,
            code="attachment_not_uploaded",
        )

    # -- reading and removal --

    async def open_preview(
        self, project: str, attachment_id: str, token: str | None, user: str | None
    ) -> Preview:
        """An uploaded image, for the holder of its preview token or its owner."""
        missing = NotFound(f"No preview found for attachment '{attachment_id}'.")
        found = await self._load(project, attachment_id)
        if found is None:
            raise missing
        owner, attachment = found
        meta = attachment.metadata or {}
        expected = str(meta.get("preview_token") or "")
        allowed = (user is not None and user == owner) or (
            bool(token) and bool(expected) and hmac.compare_digest(expected, token or "")
        )
        if not allowed or attachment.type != "image":
            raise missing
        if not meta.get("uploaded"):
            if not meta.get("direct"):
                raise missing
            try:
                confirmed = await self._confirm_direct(project, owner, attachment)
            except InvalidRequest:
                raise missing from None
            if confirmed is None:
                raise missing
        mime = base_type(attachment.mime_type)
        # Only the raster types checked on upload are shown in place; anything else
        # (SVG can carry script) is a download when opened at the storage's address.
        redirect = await self.files.download_url(
            project, attachment_id, mime_type=mime, inline=mime in _RASTER
        )
        if redirect is not None:
            return Preview(mime, redirect=redirect)
        size = await self.files.size(project, attachment_id)
        if size is None:
            raise missing
        return Preview(mime, size, self.files.read(project, attachment_id))

    async def delete_bytes(self, project: str, user: str, attachment_id: str) -> None:
        """Remove the bytes of one of the user's attachments (``NotFound`` for anyone
        else's), not its record."""
        found = await self.store.get_attachment(project, attachment_id)
        if found is None or found[0] != user:
            raise NotFound(f"Attachment {attachment_id} not found")
        await self.files.delete(project, [attachment_id])

    async def of_thread(self, project: str, thread_id: str) -> list[str]:
        """Ids of the attachments that belong to a thread."""
        return await self.store.list_thread_attachments(project, thread_id)

    async def delete_files(self, project: str, attachment_ids: list[str]) -> None:
        await self.files.delete(project, attachment_ids)
