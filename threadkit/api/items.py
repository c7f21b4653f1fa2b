"""``/v1/chatkit/threads/{thread_id}/items``: list a thread's items (the hosted API's call),
and threadkit's extensions: append items, delete one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from threadkit.services.items import ItemService
from threadkit.services.thread_writes import ThreadWrites

from . import params
from .auth import Authenticator
from .body import json_body
from .responses import JSONResponse
from .routing import route


def routes(
    auth: Authenticator, items: ItemService, writes: ThreadWrites, max_body: int
) -> list[Route]:
    async def list_items(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        page = params.page_query(request.query_params)
        return JSONResponse(await items.list(key.project, request.path_params["thread_id"], page))

    async def append_items(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        body = await json_body(request, max_body)
        thread_id = request.path_params["thread_id"]
        return JSONResponse(await writes.append(key.project, thread_id, body))

    async def delete_item(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        path = request.path_params
        deleted = await writes.delete_item(key.project, path["thread_id"], path["item_id"])
        return JSONResponse(deleted)

    return [
        route("/v1/chatkit/threads/{thread_id}/items", list_items, methods=["GET"]),
        route("/v1/chatkit/threads/{thread_id}/items", append_items, methods=["POST"]),
        route("/v1/chatkit/threads/{thread_id}/items/{item_id}", delete_item, methods=["DELETE"]),
    ]
