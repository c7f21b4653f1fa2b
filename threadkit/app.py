"""Builds the ASGI application: routes, error handling and the store's lifecycle."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadkit.api import items as items_api
from threadkit.api import threads as threads_api
from threadkit.api.auth import Authenticator
from threadkit.api.chatkit import chatkit_routes, cors_middleware
from threadkit.api.middleware import RequestContext, error_response_for
from threadkit.api.responses import JSONResponse
from threadkit.config import Settings
from threadkit.services.errors import ServiceError
from threadkit.services.items import ItemService
from threadkit.services.keys import KeyService
from threadkit.services.threads import ThreadService
from threadkit.stores import ThreadStore, open_store
from threadkit.stores.base import StoreUnavailable


def create_app(settings: Settings | None = None, store: ThreadStore | None = None) -> Starlette:
    """The threadkit ASGI app. The store is opened (and migrated) on start-up."""
    settings = settings or Settings.from_env()
    store = store or open_store(settings.database_url)
    auth = Authenticator(KeyService(store), require_beta_header=settings.require_beta_header)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "backend": store.backend, "pid": os.getpid()})

    async def on_error(request: Request, exc: Exception) -> Response:
        response: Response = error_response_for(exc, request.scope)
        return response

    chatkit = chatkit_routes(settings, store, auth)
    # Starlette tries routes in order: the most frequent calls come first.
    routes: list[Any] = [
        *threads_api.routes(auth, ThreadService(store, chatkit.files)),
        *items_api.routes(auth, ItemService(store)),
        *chatkit.routes,
        Route("/healthz", health, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[*cors_middleware(settings), Middleware(RequestContext)],
        exception_handlers={
            HTTPException: on_error,
            ServiceError: on_error,
            StoreUnavailable: on_error,
        },
    )
    app.state.store = store
    app.state.settings = settings
    return app
