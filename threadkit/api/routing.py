"""Routes whose endpoints are ``async handler(request) -> Response`` functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route, Router
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


class ExactPathRouter(Router):
    """Starlette's ``Router``, with the routes of a fixed path (``/chatkit``,
    ``/v1/chatkit/sessions``...) found by a dictionary look-up instead of trying every
    route before them in turn (``POST /chatkit`` came after eleven). A fixed path is
    looked up only where no route before it could match it, so the order's meaning is
    kept; anything else (a parameter, a 404, a 405) goes through ``Router`` itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fixed: dict[str, list[Route]] = {}
        before: list[Route] = []
        for item in self.routes:
            if not isinstance(item, Route):
                break  # a mount: keep the rest in order
            if "{" not in item.path and not any(r.path_regex.match(item.path) for r in before):
                self.fixed.setdefault(item.path, []).append(item)
            before.append(item)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        routes = self.fixed.get(scope["path"]) if scope["type"] == "http" else None
        if routes and not scope.get("root_path"):
            for item in routes:
                match, child_scope = item.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = item  # as Router sets it (the metrics' route label)
                    scope.update(child_scope)
                    await item.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)
