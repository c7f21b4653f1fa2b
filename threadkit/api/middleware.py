"""The outermost ASGI layer: a request id on every response, and every failure
turned into OpenAI's error envelope (an unknown route included)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadkit.ids import new_request_id
from threadkit.services.errors import ServiceError
from threadkit.stores.errors import StoreUnavailable

from .errors import internal_error, invalid_url, service_error_response, unavailable

log = logging.getLogger("threadkit.http")


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise
            await error_response_for(exc, scope)(scope, receive, send_with_id)


def error_response_for(exc: Exception, scope: Scope) -> Any:
    """The envelope response for any exception that escaped an endpoint."""
    request_id = scope.get("state", {}).get("request_id")
    if isinstance(exc, ServiceError):
        return service_error_response(exc)
    if isinstance(exc, HTTPException) and exc.status_code in (404, 405):
        return invalid_url(scope["method"], scope["path"])
    if isinstance(exc, StoreUnavailable):
        log.warning("database unavailable: %s (request %s)", exc, request_id)
        return unavailable("The database is temporarily unavailable. Please retry your request.")
    log.error("unhandled error in request %s", request_id, exc_info=exc)
    return internal_error()
