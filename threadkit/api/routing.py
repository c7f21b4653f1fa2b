"""Routes whose endpoints are ``async handler(request) -> Response`` functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class Endpoint:
    """The ASGI app of one handler: what Starlette's ``request_response`` does, without
    the exception-handler layer it adds around every call (``RequestContext`` answers
    every failure; each layer a response passes through costs the hot path)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)


def route(path: str, handler: Handler, methods: Sequence[str]) -> Route:
    """A route for ``handler``, answering only ``methods`` (405 for the others)."""
    return Route(path, Endpoint(handler), methods=list(methods), name=handler.__name__)
