"""The chat UI: the page at ``/``, the component's files under ``/ui/``, the operator
console at ``/console``, and the two
calls of the page: ``POST /ui/api/login`` (a one-time token for an API key) and
``GET /ui/api/workflows`` (what its picker lists)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.routing import Route

from threadkit.services.errors import InvalidRequest
from threadkit.services.ui_login import UILogin
from threadkit.web import ui_app
from threadkit.workflows import WorkflowRegistry

from .auth import Authenticator
from .body import read_body
from .responses import JSONResponse
from .routing import route

#: a token and a little room
MAX_LOGIN_BODY = 4096
#: the answers carry secrets or per-project lists: kept by no cache
NO_STORE = {"cache-control": "no-store"}


def routes(auth: Authenticator, logins: UILogin, workflows: WorkflowRegistry) -> list[Route]:
    """The UI's routes, listed after the API's, which keep winning. ``/``, ``/ui/…`` and
    ``/console…`` take every method: the files answer 405 for all but GET and HEAD."""

    async def login(request: Request) -> JSONResponse:
        # JSON only: from another origin that needs a preflight, which nothing answers.
        if request.headers.get("content-type", "").partition(";")[0].strip() != (
            "application/json"
        ):
            raise InvalidRequest('Send the token as JSON: {"token": "..."}.', param="token")
        try:
            body = orjson.loads(await read_body(request, MAX_LOGIN_BODY))
        except orjson.JSONDecodeError:
            body = None
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise InvalidRequest('Send the token as JSON: {"token": "..."}.', param="token")
        created = await logins.exchange(token)
        return JSONResponse(
            {"api_key": created.secret, "project": created.row.project}, headers=NO_STORE
        )

    async def list_workflows(request: Request) -> JSONResponse:
        await auth.project_key(request)
        data = [{"name": name, "kind": workflow.kind} for name, workflow in workflows.items()]
        return JSONResponse(
            {"object": "list", "data": data, "default": workflows.default}, headers=NO_STORE
        )

    files = ui_app()
    return [
        route("/ui/api/login", login, methods=["POST"]),
        route("/ui/api/workflows", list_workflows, methods=["GET"]),
        Route("/", files, name="ui_page"),
        Route("/ui/{path:path}", files, name="ui_files"),
        Route("/console", files, name="console_page"),
        Route("/console/{path:path}", files, name="console_files"),
    ]
