"""Request bodies read under a size limit, refused (413) as soon as they pass it."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from threadkit.services.errors import InvalidRequest, PayloadTooLarge


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is too large: the limit is {limit} bytes.", code="request_too_large"
    )


def refuse_declared_too_large(request: Request, limit: int) -> None:
    """``PayloadTooLarge`` if the ``Content-Length`` header already says more than ``limit``."""
    for name, value in request.scope["headers"]:  # the raw headers: no ``Headers`` made
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise _too_large(limit)
            return


async def read_body(request: Request, limit: int, *, declared_checked: bool = False) -> bytes:
    """The body, or ``PayloadTooLarge`` as soon as it passes ``limit`` bytes
    (``ClientDisconnect`` if the client goes away first); ``declared_checked`` when the
    caller has already called ``refuse_declared_too_large``.

    Read from the ASGI messages directly: ``Request.stream`` is an async generator
    around the same calls, and most bodies come in one message."""
    if not declared_checked:
        refuse_declared_too_large(request, limit)
    receive = request.receive
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        if not body and not message.get("more_body", False):
            if len(chunk) > limit:
                raise _too_large(limit)
            return chunk  # the whole body in one message: no copy
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            return bytes(body)


async def json_body(request: Request, limit: int) -> Any:
    """The parsed JSON body (at most ``limit`` bytes), or the hosted API's 400 for
    anything else."""
    body = await read_body(request, limit)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. The API expects a JSON "
            "payload, but what was sent was not valid JSON.",
        ) from None
