"""``GET /metrics`` (Prometheus text format) and what the request path records."""

from __future__ import annotations

import os
from bisect import bisect_left
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
    """Counts answered requests and streamed turns in plain numbers; ``flush`` adds
    them to prometheus-client's values.

    prometheus-client takes a lock per value and, with several workers, writes a
    memory-mapped file on every ``inc`` and ``observe``: three such writes a request
    cost a retrieve a quarter of its requests/s (docs/performance.md). Here requests
    are counted in batches (``threadkit.api.finished``), and the values reach the
    shared files once a second (``FLUSH_SECONDS`` in threadkit.app) and at every
    scrape.
    """

    def __init__(self, buckets: tuple[float, ...] = metrics.LATENCY_BUCKETS) -> None:
        self._bounds = buckets
        self._width = len(buckets) + 1  # the +Inf bucket last
        #: (method, route, status) -> [count, seconds, count per bucket...]
        self._pending: dict[tuple[str, str, int], list[Any]] = {}
        self._streams = self._empty()
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _empty(self) -> list[Any]:
        return [0, 0.0, *([0] * self._width)]

    def observe_many(self, requests: list[tuple[Any, ...]]) -> None:
        """Counts answered requests (``threadkit.api.finished.Finished`` tuples)."""
        pending, bounds, empty = self._pending, self._bounds, self._empty
        for _, seconds, _, method, route, status, _ in requests:
            key = (method, route, status)
            counts = pending.get(key)
            if counts is None:
                counts = pending[key] = empty()
            counts[0] += 1
            counts[1] += seconds
            counts[2 + bisect_left(bounds, seconds)] += 1

    def stream_started(self, seconds_to_first_event: float) -> None:
        counts = self._streams
        counts[0] += 1
        counts[1] += seconds_to_first_event
        counts[2 + bisect_left(self._bounds, seconds_to_first_event)] += 1

    def flush(self) -> None:
        """Adds what was counted since the last flush to prometheus-client's values."""
        pending, self._pending = self._pending, {}
        for key, counts in pending.items():
            counter, histogram = self._children_of(key)
            counter.inc(counts[0])
            _add_to_histogram(histogram, counts)
        streams, self._streams = self._streams, self._empty()
        if streams[0]:
            metrics.STREAMS.inc(streams[0])
            _add_to_histogram(metrics.FIRST_EVENT, streams)

    def _children_of(self, key: tuple[str, str, int]) -> tuple[Any, Any]:
        children = self._children.get(key)
        if children is None:
            labels = (key[0], key[1], str(key[2]))
            children = self._children[key] = (
                metrics.REQUESTS.labels(*labels),
                metrics.LATENCY.labels(*labels),
            )
        return children


def _add_to_histogram(histogram: Any, counts: list[Any]) -> None:
    """Adds ``[count, sum, count per bucket...]`` to a histogram in one step per bucket.

    prometheus-client has no public call to add many observations at once; its
    histogram keeps a ``_sum`` value and one ``_buckets`` value per upper bound (each
    counting the observations of that bucket alone), which is what is added to here.
    ``tests/test_metrics.py`` checks the scraped buckets against the requests made.
    """
    histogram._sum.inc(counts[1])
    for bucket, count in zip(histogram._buckets, counts[2:], strict=True):
        if count:
            bucket.inc(count)


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
