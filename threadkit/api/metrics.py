"""``GET /metrics`` (Prometheus text format) and what the request path records.

Recording costs a dictionary look-up per request: the label children of each
(method, route, status) are bound once and cached.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

from threadkit import metrics
from threadkit.multiprocess import MULTIPROC_VARIABLE


class HttpMetrics:
    """Records one answered request; children cached per (method, route, status)."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._streams = metrics.STREAMS
        self._first_event = metrics.FIRST_EVENT

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = self._children[key] = (
                metrics.REQUESTS.labels(*labels),
                metrics.LATENCY.labels(*labels),
            )
        children[0].inc()
        children[1].observe(seconds)

    def stream_started(self, seconds_to_first_event: float) -> None:
        self._streams.inc()
        self._first_event.observe(seconds_to_first_event)


def scrape_registry() -> CollectorRegistry:
    """All workers' values in multiprocess mode, else this process's registry."""
    if not os.environ.get(MULTIPROC_VARIABLE):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def metrics_endpoint(refresh: Callable[[], None]) -> Callable[[Request], Any]:
    """The ``GET /metrics`` handler; ``refresh`` updates the gauges read at scrape."""

    async def metrics_text(request: Request) -> Response:
        refresh()
        return Response(generate_latest(scrape_registry()), media_type=CONTENT_TYPE_LATEST)

    return metrics_text


def pool_refresher(store: Any) -> Callable[[], None]:
    """Sets the pool gauges from the store's pool (PostgreSQL); a no-op for SQLite."""
    pool = getattr(store, "pool", None)
    usage = getattr(pool, "usage", None)
    if usage is None:
        return lambda: None
    gauges = {state: metrics.POOL_CONNECTIONS.labels(state) for state in ("open", "idle", "max")}

    def refresh() -> None:
        for state, value in usage().items():
            gauges[state].set(value)

    return refresh


def worker_exited(pid: int) -> None:
    """Drops the live gauges of an exiting worker (its counters stay counted)."""
    if os.environ.get(MULTIPROC_VARIABLE):
        multiprocess.mark_process_dead(pid)


def serve_on_port(host: str, port: int) -> None:
    """``/metrics`` of all workers on a port of its own, from the ``serve`` process."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=scrape_registry())
