"""Attachment bytes in an S3-compatible object store, at
``<prefix><project digest>/<attachment id>`` in one bucket.

Browsers upload straight to the bucket through a presigned PUT that signs the
declared length and type, so the store itself refuses other bytes; previews are
presigned GETs that fix the type the bytes are served as. Every threadkit process,
on any host, reaches the same objects. The client is aiobotocore (the choice and its
figures: docs/performance.md); it is opened on first use, in the running event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from chatkit.types import AttachmentUploadDescriptor

from . import FileInfo, FileStorage, FileWriter, SignedURL, is_attachment_id, project_folder

_CHUNK = 64 * 1024
#: S3's smallest part but the last is 5 MiB
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: deletes in flight at once
_DELETES = 16


def _status(exc: ClientError) -> tuple[int, str]:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return status, str(exc.response.get("Error", {}).get("Code") or "")


def _missing(exc: ClientError) -> bool:
    status, code = _status(exc)
    return status == 404 or code in ("NoSuchKey", "NotFound", "404")


class _S3Writer(FileWriter):
    """Small files become one PUT; past ``part_size`` bytes, a multipart upload, which
    keeps at most one part in memory and shows nothing until it is completed."""

    def __init__(self, storage: S3FileStorage, key: str) -> None:
        self.storage = storage
        self.key = key
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    async def _send_part(self) -> None:
        s3 = await self.storage.client()
        bucket = self.storage.bucket
        if self.upload_id is None:
            started = await s3.create_multipart_upload(Bucket=bucket, Key=self.key)
            self.upload_id = str(started["UploadId"])
        data, self.buffer = bytes(self.buffer), bytearray()
        number = len(self.parts) + 1
        sent = await s3.upload_part(
            Bucket=bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        self.parts.append({"ETag": sent["ETag"], "PartNumber": number})

    async def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        if len(self.buffer) >= self.storage.part_size:
            await self._send_part()

    async def commit(self) -> None:
        s3 = await self.storage.client()
        if self.upload_id is None:
            await s3.put_object(Bucket=self.storage.bucket, Key=self.key, Body=bytes(self.buffer))
            self.buffer = bytearray()
            return
        try:
            if self.buffer:
                await self._send_part()
            await s3.complete_multipart_upload(
                Bucket=self.storage.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
        except BaseException:
            await self.abort()
            raise

    async def abort(self) -> None:
        self.buffer = bytearray()
        if self.upload_id is not None:
            upload_id, self.upload_id = self.upload_id, None
            s3 = await self.storage.client()
            await s3.abort_multipart_upload(
                Bucket=self.storage.bucket, Key=self.key, UploadId=upload_id
            )


class S3FileStorage(FileStorage):
    """Files in ``bucket`` under ``prefix``. Credentials and the endpoint are given,
    never looked up: without ``endpoint_url``, AWS S3 in ``region``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        upload_expires: int = 600,
        download_expires: int = 300,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        self.bucket = bucket
        prefix = prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self.upload_expires = upload_expires
        self.download_expires = download_expires
        self.part_size = part_size
        self._credentials = {
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "aws_session_token": session_token,
        }
        self._config = AioConfig(
            signature_version="s3v4",
            # S3-compatible servers on their own host name rarely have a DNS name per bucket.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
            # The newer default checksums are not understood by every S3-compatible server.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = None
        self._stack: AsyncExitStack | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def key(self, project: str, attachment_id: str) -> str:
        if not is_attachment_id(attachment_id):
            raise ValueError(f"not an attachment id: {attachment_id!r}")
        return f"{self.prefix}{project_folder(project)}/{attachment_id}"

    async def client(self) -> Any:
        """The aiobotocore S3 client of the running event loop (opened on first use)."""
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            raise RuntimeError("S3FileStorage used from another event loop: close() it first")
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
            self._loop = loop
        async with self._lock:
            if self._client is None:
                stack = AsyncExitStack()
                self._client = await stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        config=self._config,
                        **self._credentials,
                    )
                )
                self._stack = stack
        return self._client

    async def close(self) -> None:
        stack, self._stack = self._stack, None
        self._client = self._lock = self._loop = None
        if stack is not None:
            await stack.aclose()

    async def writer(self, project: str, attachment_id: str) -> FileWriter:
        return _S3Writer(self, self.key(project, attachment_id))

    async def info(self, project: str, attachment_id: str) -> FileInfo | None:
        if not is_attachment_id(attachment_id):
            return None
        s3 = await self.client()
        try:
            found = await s3.head_object(Bucket=self.bucket, Key=self.key(project, attachment_id))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return FileInfo(int(found["ContentLength"]), found.get("ContentType") or None)

    async def size(self, project: str, attachment_id: str) -> int | None:
        found = await self.info(project, attachment_id)
        return None if found is None else found.size

    async def _get(self, key: str, **options: Any) -> Any:
        s3 = await self.client()
        try:
            return await s3.get_object(Bucket=self.bucket, Key=key, **options)
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(key) from None
            raise

    async def read(self, project: str, attachment_id: str) -> AsyncIterator[bytes]:
        found = await self._get(self.key(project, attachment_id))
        async with found["Body"] as body:
            async for chunk in body.iter_chunks(_CHUNK):
                yield chunk

    async def head(self, project: str, attachment_id: str, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            found = await self._get(self.key(project, attachment_id), Range=f"bytes=0-{length - 1}")
        except ClientError as exc:
            if _status(exc)[0] == 416:  # an empty object has no byte 0
                return b""
            raise
        async with found["Body"] as body:
            return bytes(await body.read())[:length]

    async def delete(self, project: str, attachment_ids: Sequence[str]) -> None:
        keys = [self.key(project, a) for a in attachment_ids if is_attachment_id(a)]
        if not keys:
            return
        s3 = await self.client()
        gate = asyncio.Semaphore(_DELETES)

        # One DeleteObject per key: DeleteObjects needs checksums that some
        # S3-compatible servers refuse, and a thread rarely has many attachments.
        async def remove(key: str) -> None:
            async with gate:
                await s3.delete_object(Bucket=self.bucket, Key=key)

        await asyncio.gather(*(remove(key) for key in keys))

    async def upload_descriptor(
        self, project: str, attachment_id: str, *, size: int, mime_type: str
    ) -> AttachmentUploadDescriptor:
        s3 = await self.client()
        url = await s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.key(project, attachment_id),
                "ContentType": mime_type,
                "ContentLength": size,
            },
            ExpiresIn=self.upload_expires,
        )
        return AttachmentUploadDescriptor(
            url=url,
            method="PUT",
            headers={"content-type": mime_type},
        )

    async def download_url(
        self, project: str, attachment_id: str, *, mime_type: str, inline: bool
    ) -> SignedURL:
        s3 = await self.client()
        url = await s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.key(project, attachment_id),
                "ResponseContentType": mime_type,
                "ResponseContentDisposition": "inline" if inline else "attachment",
                "ResponseCacheControl": f"private, max-age={self.download_expires}",
            },
            ExpiresIn=self.download_expires,
        )
        return SignedURL(str(url), self.download_expires)


__all__ = ["S3FileStorage"]
