"""``/v1/chatkit/threads``: retrieve, list, delete (the hosted API's calls) and threadkit's
extensions: create, update, full-text search (``q``) and ``include=metadata``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from threadkit.services.thread_writes import ThreadWrites
from threadkit.services.threads import ThreadService

from . import params
from .auth import Authenticator
from .body import json_body
from .responses import JSONResponse
from .routing import route

_METADATA = ("metadata",)


def routes(
    auth: Authenticator, threads: ThreadService, writes: ThreadWrites, max_body: int
) -> list[Route]:
    async def list_threads(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        query = request.query_params
        page = params.page_query(query)
        user = params.string(query, "user")
        include = params.includes(query, _METADATA)
        found = await threads.list(
            key.project, page, user, q=params.string(query, "q"), include_metadata=bool(include)
        )
        return JSONResponse(found)

    async def retrieve_thread(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        # Most retrieves have no query string: skip parsing one.
        include = (
            params.includes(request.query_params, ("items", "metadata"))
            if request.scope["query_string"]
            else frozenset()
        )
        thread = await threads.retrieve(
            key.project,
            request.path_params["thread_id"],
            include_items="items" in include,
            include_metadata="metadata" in include,
        )
        return JSONResponse(thread)

    async def delete_thread(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        return JSONResponse(await threads.delete(key.project, request.path_params["thread_id"]))

    async def create_thread(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        include = params.includes(request.query_params, _METADATA)
        body = await json_body(request, max_body)
        return JSONResponse(await writes.create(key.project, body, include_metadata=bool(include)))

    async def update_thread(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        include = params.includes(request.query_params, _METADATA)
        thread_id = request.path_params["thread_id"]
        body = await json_body(request, max_body)
        updated = await writes.update(key.project, thread_id, body, include_metadata=bool(include))
        return JSONResponse(updated)

    return [
        route("/v1/chatkit/threads/{thread_id}", retrieve_thread, methods=["GET"]),
        route("/v1/chatkit/threads", list_threads, methods=["GET"]),
        route("/v1/chatkit/threads/{thread_id}", delete_thread, methods=["DELETE"]),
        route("/v1/chatkit/threads", create_thread, methods=["POST"]),
        route("/v1/chatkit/threads/{thread_id}", update_thread, methods=["POST"]),
    ]
