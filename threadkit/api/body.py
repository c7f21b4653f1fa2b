"""Request bodies read under a size limit, refused (413) as soon as they pass it."""

from __future__ import annotations

from starlette.requests import Request

from threadkit.services.errors import PayloadTooLarge


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is too large: the limit is {limit} bytes.", code="request_too_large"
    )


def refuse_declared_too_large(request: Request, limit: int) -> None:
    """``PayloadTooLarge`` if the ``Content-Length`` header already says more than ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or ``PayloadTooLarge`` as soon as it passes ``limit`` bytes."""
    refuse_declared_too_large(request, limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)
