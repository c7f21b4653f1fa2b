"""Builds the ASGI application: routes, error handling and the store's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.datastructures import State
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

from threadkit.api import export as export_api
from threadkit.api import feedback as feedback_api
from threadkit.api import health as health_api
from threadkit.api import items as items_api
from threadkit.api import threads as threads_api
from threadkit.api import ui as ui_api
from threadkit.api.auth import Authenticator
from threadkit.api.chatkit import chatkit_routes, cors_middleware
from threadkit.api.finished import FinishedRequests
from threadkit.api.metrics import HttpMetrics, metrics_endpoint, pool_refresher, worker_exited
from threadkit.api.middleware import RequestContext
from threadkit.api.openapi import openapi_json
from threadkit.api.routing import ExactPathRouter, route
from threadkit.config import Settings
from threadkit.logs import AccessLog
from threadkit.services.feedback import FeedbackService
from threadkit.services.items import ItemService
from threadkit.services.keys import KeyService
from threadkit.services.maintenance import Maintenance
from threadkit.services.maintenance import stop as stop_maintenance
from threadkit.services.search_index import SearchIndexer
from threadkit.services.search_index import stop as stop_indexer
from threadkit.services.thread_writes import ThreadWrites
from threadkit.services.threads import ThreadService
from threadkit.services.ui_login import UILogin
from threadkit.shutdown import Drain
from threadkit.stores import ThreadStore, open_store


class ThreadkitApp:
    """The ASGI app: CORS (when configured), then ``RequestContext``, then the router.

    Not a ``Starlette`` application: that adds two error middlewares around every
    request, and ``RequestContext`` already turns every failure, a 404 or 405 of the
    router included, into OpenAI's error envelope. Each layer a request and its
    response messages pass through costs the hot path (docs/performance.md).
    """

    def __init__(self, router: Router, stack: ASGIApp) -> None:
        self.router = router
        self.state = State()
        self._stack = stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # With "app" in the scope, the router raises 404 and 405 for RequestContext to
        # answer instead of answering in plain text itself.
        scope["app"] = self
        await self._stack(scope, receive, send)


def create_app(settings: Settings | None = None, store: ThreadStore | None = None) -> ThreadkitApp:
    """The threadkit ASGI app. The store is opened (and migrated) on start-up."""
    settings = settings or Settings.from_env()
    store = store or open_store(settings.database_url, **settings.store_options)
    auth = Authenticator(KeyService(store), require_beta_header=settings.require_beta_header)

    http_metrics = HttpMetrics() if settings.metrics_recorded else None
    access_log = AccessLog(settings.log_format) if settings.access_log else None
    finished = (
        FinishedRequests(http_metrics, access_log)
        if http_metrics is not None or access_log is not None
        else None
    )
    refresh = _refresher(finished, http_metrics, pool_refresher(store))
    drain = Drain(settings.shutdown_timeout)

    @asynccontextmanager
    async def lifespan(app: ThreadkitApp) -> AsyncIterator[None]:
        await store.open()
        maintenance = Maintenance(store, chatkit.files, settings.maintenance).start()
        indexer = SearchIndexer(store).start()
        sweeper = chatkit.limiter.start()
        drain.install()
        flusher = (
            asyncio.create_task(_every(FLUSH_SECONDS, refresh))
            if http_metrics is not None
            else None
        )
        try:
            yield
            await drain.drained()
        finally:
            await stop_maintenance(maintenance)
            await stop_indexer(indexer)
            await chatkit.limiter.stop(sweeper)
            if flusher is not None:
                flusher.cancel()
                refresh()
            await chatkit.files.close()
            await store.close()
            if finished is not None:
                finished.flush()
            worker_exited(os.getpid())

    health, ready = health_api.handlers(store)
    chatkit = chatkit_routes(settings, store, auth)
    # Starlette tries routes in order: the most frequent calls come first.
    writes = ThreadWrites(store)
    routes: list[Any] = [
        *threads_api.routes(
            auth, ThreadService(store, chatkit.files), writes, settings.max_body_bytes
        ),
        *items_api.routes(auth, ItemService(store), writes, settings.max_body_bytes),
        *chatkit.routes,
        *feedback_api.routes(auth, FeedbackService(store)),
        *export_api.routes(auth, store),
        route("/v1/openapi.json", openapi_json, methods=["GET"]),
        route("/healthz", health, methods=["GET"]),
        route("/readyz", ready, methods=["GET"]),
    ]
    if settings.metrics_on_app:
        routes.append(route("/metrics", metrics_endpoint(refresh), methods=["GET"]))
    if settings.ui:
        # last: every API route keeps winning
        logins = UILogin(store, settings.ui_project)
        routes.extend(ui_api.routes(auth, logins, chatkit.workflows))
    router = ExactPathRouter(routes=routes, lifespan=lifespan)
    stack: ASGIApp = RequestContext(
        router,
        metrics=http_metrics,
        finished=finished,
        drain=drain,
    )
    for layer in reversed(cors_middleware(settings)):
        stack = layer.cls(stack, *layer.args, **layer.kwargs)
    app = ThreadkitApp(router, stack)
    app.state.store = store
    app.state.settings = settings
    return app


#: how often each worker adds what it counted to the values a scrape reads (a scrape
#: answered by one worker sees the others' figures at most this old)
FLUSH_SECONDS = 1.0


def _refresher(
    finished: FinishedRequests | None,
    http_metrics: HttpMetrics | None,
    refresh_pool: Callable[[], None],
) -> Callable[[], None]:
    """What a worker does before a scrape and every ``FLUSH_SECONDS``."""
    if finished is None or http_metrics is None:
        return refresh_pool

    def refresh() -> None:
        finished.flush()
        http_metrics.flush()
        refresh_pool()

    return refresh


async def _every(seconds: float, work: Callable[[], None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            work()
            await asyncio.sleep(seconds)
