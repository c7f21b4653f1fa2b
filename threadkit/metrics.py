"""The server's Prometheus metrics, defined once per process.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``threadkit serve`` sets it before its workers
start), prometheus-client keeps every value in a memory-mapped file per process, and a
scrape adds up all the workers' files (``threadkit.api.metrics``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

#: request latency buckets (seconds): a retrieve takes about a millisecond, a streamed
#: turn seconds to minutes
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

REQUESTS = Counter(
    "threadkit_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "threadkit_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response (a stream's included).",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
STREAMS = Counter("threadkit_streaming_turns", "Streamed ChatKit answers started.")
FIRST_EVENT = Histogram(
    "threadkit_streaming_first_event_seconds",
    "Time from a streamed request's arrival to its first event.",
    buckets=LATENCY_BUCKETS,
)
WORKFLOW_ERRORS = Counter(
    "threadkit_workflow_errors", "Workflow runs that failed, by workflow.", ["workflow"]
)
RATE_LIMITED = Counter(
    "threadkit_rate_limited", "Requests refused by a session's rate limit (HTTP 429)."
)
STORE_ERRORS = Counter(
    "threadkit_store_errors",
    "Database failures: kind=unavailable (could not reach it), error (a failed statement), "
    "readiness (a failed GET /readyz).",
    ["kind"],
)
POOL_CONNECTIONS = Gauge(
    "threadkit_db_pool_connections",
    "PostgreSQL connections of the pools of all workers, by state (open, idle, max).",
    ["state"],
    multiprocess_mode="livesum",
)
ATTACHMENT_BYTES = Counter(
    "threadkit_attachment_bytes_received", "Attachment bytes received by uploads."
)
