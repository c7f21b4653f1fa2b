"""``/v1/chatkit/threads/{thread_id}/items``: list a thread's items."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from threadkit.services.items import ItemService

from . import params
from .auth import Authenticator
from .responses import JSONResponse
from .routing import route


def routes(auth: Authenticator, items: ItemService) -> list[Route]:
    async def list_items(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        page = params.page_query(request.query_params)
        return JSONResponse(await items.list(key.project, request.path_params["thread_id"], page))

    return [route("/v1/chatkit/threads/{thread_id}/items", list_items, methods=["GET"])]
