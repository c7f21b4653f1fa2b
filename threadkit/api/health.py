"""``GET /healthz`` (liveness: touches nothing) and ``GET /readyz`` (the database
answers a cheap query)."""

from __future__ import annotations

import logging
import os

from starlette.requests import Request
from starlette.responses import Response

from threadkit import metrics
from threadkit.stores import ThreadStore

from .errors import unavailable
from .responses import JSONResponse
from .routing import Handler

log = logging.getLogger("threadkit.http")


def handlers(store: ThreadStore) -> tuple[Handler, Handler]:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "backend": store.backend, "pid": os.getpid()})

    async def ready(request: Request) -> Response:
        try:
            await store.ping()
        except Exception as exc:
            metrics.STORE_ERRORS.labels("readiness").inc()
            reason = str(exc) or type(exc).__name__
            log.warning("not ready: the database does not answer: %s", reason)
            return unavailable(f"The database does not answer: {reason}")
        return JSONResponse({"status": "ready", "backend": store.backend, "pid": os.getpid()})

    return health, ready
