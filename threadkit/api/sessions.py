"""``/v1/chatkit/sessions``: create and cancel ChatKit sessions (project API key)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from threadkit.services.sessions import SessionService

from .auth import Authenticator
from .body import json_body
from .responses import JSONResponse
from .routing import route

#: room for state variables: up to 64 strings of up to 10 MiB each are allowed, but
#: a body this size is plenty for any real session
MAX_BODY = 64 * 1024 * 1024


def routes(auth: Authenticator, sessions: SessionService) -> list[Route]:
    async def create_session(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        return JSONResponse(await sessions.create(key.project, await json_body(request, MAX_BODY)))

    async def cancel_session(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        # The body (the SDK sends none) carries nothing.
        return JSONResponse(await sessions.cancel(key.project, request.path_params["session_id"]))

    return [
        route("/v1/chatkit/sessions", create_session, methods=["POST"]),
        route("/v1/chatkit/sessions/{session_id}/cancel", cancel_session, methods=["POST"]),
    ]
