"""The outermost ASGI layer: a request id on every response, every failure turned
into OpenAI's error envelope (an unknown route included), and, per request, the
metrics and the access line. One layer for all of it: each layer a request and its
response messages pass through costs the hot path."""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadkit import metrics
from threadkit.ids import new_request_id
from threadkit.logs import request_id as current_request_id
from threadkit.services.errors import RateLimited, ServiceError
from threadkit.shutdown import Drain
from threadkit.stores.errors import StoreUnavailable

from .errors import internal_error, invalid_url, service_error_response, unavailable
from .finished import FinishedRequests
from .metrics import HttpMetrics

log = logging.getLogger("threadkit.http")

#: the route label of requests no route matched (never the raw path: unbounded)
UNMATCHED = "unmatched"
_EVENT_STREAM = b"text/event-stream"


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics | None = None,
        finished: FinishedRequests | None = None,
        drain: Drain | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.finished = finished
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = perf_counter()
        request_id = new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = current_request_id.set(request_id)
        header = (b"x-request-id", request_id.encode())
        started = finished = False
        status = 500
        streaming = False
        observer = self.metrics
        drain = self.drain
        if drain is not None:
            drain.in_flight += 1
            if scope["method"] == "POST":  # what may stream: told to end at shutdown
                receive = drain.receive(receive)

        async def send_with_id(message: Message) -> None:
            nonlocal started, finished, status, streaming
            if message["type"] == "http.response.body":
                finished = not message.get("more_body", False)
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = message.get("headers", [])
                message["headers"] = [*headers, header]
                if observer is not None and scope["method"] == "POST":
                    for name, value in headers:
                        if name == b"content-type":
                            streaming = value.startswith(_EVENT_STREAM)
                            break
            elif streaming and message.get("body"):
                streaming = False
                observer.stream_started(perf_counter() - began)  # type: ignore[union-attr]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
            if started and not finished and drain is not None and drain.ended:
                # A stream ended by the shutdown: end its response cleanly too.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception as exc:
            if started:
                log.error("error after the response started", exc_info=exc)
                raise
            await error_response_for(exc, scope)(scope, receive, send_with_id)
        finally:
            if self.finished is not None:
                ended = perf_counter()
                matched = scope.get("route")
                route = matched.path if matched is not None else UNMATCHED
                self.finished.add(
                    (
                        ended,
                        ended - began,
                        request_id,
                        scope["method"],
                        route,
                        status,
                        state.get("project"),
                    )
                )
            current_request_id.reset(token)
            if drain is not None:
                drain.in_flight -= 1


def error_response_for(exc: Exception, scope: Scope) -> Any:
    """The envelope response for any exception that escaped an endpoint."""
    request_id = scope.get("state", {}).get("request_id")
    if isinstance(exc, ServiceError):
        if isinstance(exc, RateLimited):
            metrics.RATE_LIMITED.inc()
        return service_error_response(exc)
    if isinstance(exc, HTTPException) and exc.status_code in (404, 405):
        return invalid_url(scope["method"], scope["path"])
    if isinstance(exc, StoreUnavailable):
        metrics.STORE_ERRORS.labels("unavailable").inc()
        log.warning("database unavailable: %s (request %s)", exc, request_id)
        return unavailable("The database is temporarily unavailable. Please retry your request.")
    if type(exc).__module__.partition(".")[0] in ("sqlite3", "asyncpg"):
        metrics.STORE_ERRORS.labels("error").inc()
    log.error("unhandled error in request %s", request_id, exc_info=exc)
    return internal_error()
