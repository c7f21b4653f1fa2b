"""``/v1/chatkit/threads``: retrieve, list, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from threadkit.services.threads import ThreadService

from . import params
from .auth import Authenticator
from .responses import JSONResponse
from .routing import route


def routes(auth: Authenticator, threads: ThreadService) -> list[Route]:
    async def list_threads(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        query = request.query_params
        page = params.page_query(query)
        user = params.string(query, "user")
        return JSONResponse(await threads.list(key.project, page, user))

    async def retrieve_thread(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        # Most retrieves have no query string: skip parsing one.
        include = request.query_params.getlist("include") if request.scope["query_string"] else []
        for value in include:
            params.choice({"include": value}, "include", ("items",), "items")
        thread_id = request.path_params["thread_id"]
        return JSONResponse(
            await threads.retrieve(key.project, thread_id, include_items=bool(include))
        )

    async def delete_thread(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        return JSONResponse(await threads.delete(key.project, request.path_params["thread_id"]))

    return [
        route("/v1/chatkit/threads/{thread_id}", retrieve_thread, methods=["GET"]),
        route("/v1/chatkit/threads", list_threads, methods=["GET"]),
        route("/v1/chatkit/threads/{thread_id}", delete_thread, methods=["DELETE"]),
    ]
