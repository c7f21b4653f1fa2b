"""Attachment bytes over HTTP: the upload URL of the two-phase upload and image previews.

* ``POST /chatkit/attachments/{id}/upload?project=…&token=…`` (local disk; an object
  store takes the bytes itself, through the attachment's presigned request) with
  ``multipart/form-data`` (a ``file`` part, as ChatKit clients send it), or ``PUT``
  (or ``POST``) with the raw bytes as the body.
* ``GET /chatkit/attachments/{id}/preview?project=…&token=…``: an uploaded image, to
  the holder of the preview URL, or to the owner's session (``Authorization: Bearer
  <client_secret>``); from an object store, a redirect to a short-lived presigned URL.

The tokens in these URLs are the access check: threadkit hands them out only in
the attachment it returns to the attachment's owner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from threadkit import metrics
from threadkit.services.attachments import AttachmentService
from threadkit.services.errors import InvalidRequest, PayloadTooLarge
from threadkit.services.sessions import SessionService, is_session_secret
from threadkit.stores.context import DEFAULT_PROJECT

from .auth import bearer_token
from .routing import route

#: room for the multipart framing around the file's bytes
MULTIPART_OVERHEAD = 64 * 1024


class _FilePart:
    """Streams the first file part (named ``file``, or any with a filename) out of a
    multipart body, without holding it in memory."""

    def __init__(self, boundary: bytes) -> None:
        self.headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self.found = False
        self.in_file = False
        self.finished = False
        self.content_type: str | None = None
        self.pending: list[bytes] = []
        callbacks: Any = {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }
        self.parser = MultipartParser(boundary, callbacks)

    def _part_begin(self) -> None:
        self.headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self.headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        if self.found:
            return
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if options.get(b"name") == b"file" or b"filename" in options:
            self.found = self.in_file = True
            raw = self.headers.get(b"content-type")
            self.content_type = raw.decode("latin-1") if raw else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.pending.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        if self.in_file:
            self.in_file = False
            self.finished = True

    def feed(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except MultipartParseError as exc:
            raise InvalidRequest(f"The multipart body is malformed: {exc}") from None

    def take(self) -> list[bytes]:
        chunks, self.pending = self.pending, []
        return chunks


async def _limited(request: Request, limit: int) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(
                "The upload is larger than the declared size.", code="file_too_large"
            )
        if chunk:
            yield chunk


async def file_from_multipart(
    request: Request, boundary: bytes, limit: int
) -> tuple[str | None, AsyncIterator[bytes]]:
    """The file part's content type and bytes; ``limit`` bounds the whole body."""
    part = _FilePart(boundary)
    body = _limited(request, limit + MULTIPART_OVERHEAD)
    async for chunk in body:
        part.feed(chunk)
        if part.found:
            break
    if not part.found:
        raise InvalidRequest(
            "The multipart body has no file part (send the bytes in a part named 'file').",
            code="missing_file",
        )

    async def data() -> AsyncIterator[bytes]:
        for chunk in part.take():
            yield chunk
        if part.finished:
            return
        async for raw in body:
            part.feed(raw)
            for chunk in part.take():
                yield chunk
            if part.finished:
                return
        raise InvalidRequest("The multipart body ended inside the file part.")

    return part.content_type, data()


def routes(attachments: AttachmentService, sessions: SessionService) -> list[Route]:
    async def upload(request: Request) -> Response:
        attachment_id = request.path_params["attachment_id"]
        project = request.query_params.get("project") or DEFAULT_PROJECT
        token = request.query_params.get("token", "")
        # The declared size bounds the body; an unknown attachment is refused by the
        # service before any byte is read.
        size = await attachments.declared_size(project, attachment_id, token)
        content_type = request.headers.get("content-type", "")
        kind, options = parse_options_header(content_type)
        if request.method == "POST" and kind == b"multipart/form-data":
            boundary = options.get(b"boundary")
            if not boundary:
                raise InvalidRequest("The multipart body has no boundary.")
            part_type, chunks = await file_from_multipart(request, boundary, size)
        else:
            part_type, chunks = content_type or None, _limited(request, size)
        attachment = await attachments.receive(project, attachment_id, token, part_type, chunks)
        metrics.ATTACHMENT_BYTES.inc(size)
        return Response(
            attachment.model_dump_json(exclude_none=True, context={"exclude_metadata": True}),
            media_type="application/json",
        )

    async def preview(request: Request) -> Response:
        attachment_id = request.path_params["attachment_id"]
        project = request.query_params.get("project") or DEFAULT_PROJECT
        user = None
        secret = bearer_token(request)
        if secret and is_session_secret(secret):
            session = await sessions.authenticate(secret)
            if session.project == project:
                user = session.user
        found = await attachments.open_preview(
            project, attachment_id, request.query_params.get("token"), user
        )
        if found.redirect is not None:
            # Cached for at most half the signed URL's life, so that a browser never
            # follows a cached redirect to an expired URL.
            return RedirectResponse(
                found.redirect.url,
                status_code=307,
                headers={"cache-control": f"private, max-age={found.redirect.expires_in // 2}"},
            )
        assert found.chunks is not None
        return StreamingResponse(
            found.chunks,
            media_type=found.mime_type,
            headers={
                "content-length": str(found.size),
                "cache-control": "private, max-age=3600",
                "x-content-type-options": "nosniff",
                # An image only: nothing in it may run (think of SVG).
                "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            },
        )

    return [
        route("/chatkit/attachments/{attachment_id}/upload", upload, methods=["POST", "PUT"]),
        route("/chatkit/attachments/{attachment_id}/preview", preview, methods=["GET"]),
    ]
