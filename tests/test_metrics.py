"""``GET /metrics``: the Prometheus text of a real server, across its workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.chatkit_helpers import chat
from tests.conftest import Server, start_server, stop_server
from tests.test_attachments import create, post_file, uploader

Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(url: str) -> Scrape:
    """Every sample of a scrape, by name and labels."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def settled(url: str, ready: Callable[[Scrape], bool]) -> Scrape:
    """A scrape once ``ready`` holds: the workers that did not answer it add their
    counts to the shared files once a second."""
    deadline = time.monotonic() + 10
    while True:
        scrape = samples(url)
        if ready(scrape) or time.monotonic() > deadline:
            return scrape
        time.sleep(0.2)


def value(scrape: Scrape, name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def test_two_workers_one_scrape(database: tuple[str, str], tmp_path: Path) -> None:
    backend, url = database
    server = start_server(url, backend, tmp_path, "--workers", "2")
    try:
        pids: set[int] = set()
        made = 0
        while len(pids) < 2 or made < 20:
            pids.add(httpx.get(f"{server.url}/healthz").json()["pid"])
            made += 1
            assert made < 500, "the requests never reached both workers"
        missing = "cthr_" + "0" * 48
        with server.http("metrics-project") as http:
            for _ in range(3):
                assert http.get(f"/v1/chatkit/threads/{missing}").status_code == 404
        assert httpx.get(f"{server.url}/no/such/path").status_code == 404
        health = dict(method="GET", route="/healthz", status="200")
        made += 1  # start_server's probe
        thread = dict(method="GET", route="/v1/chatkit/threads/{thread_id}", status="404")
        unmatched = dict(method="GET", route="unmatched", status="404")
        scrape = settled(
            server.url,
            lambda s: (
                value(s, "threadkit_http_requests_total", **health) >= made
                and value(s, "threadkit_http_requests_total", **thread) >= 3
                and value(s, "threadkit_http_requests_total", **unmatched) >= 1
            ),
        )
        assert value(scrape, "threadkit_http_requests_total", **health) == made
        assert value(scrape, "threadkit_http_request_duration_seconds_count", **health) == made
        # the counts land in the buckets of their durations (a health check takes far
        # less than a second), and the seconds add up
        duration = "threadkit_http_request_duration_seconds"
        assert value(scrape, f"{duration}_bucket", **health, le="1.0") == made
        assert value(scrape, f"{duration}_bucket", **health, le="+Inf") == made
        assert 0 < value(scrape, f"{duration}_sum", **health) < made
        assert value(scrape, "threadkit_http_requests_total", **thread) == 3
        assert value(scrape, "threadkit_http_requests_total", **unmatched) == 1
        assert not any(missing in str(labels) for _, labels in scrape)
        if backend == "postgres":
            assert value(scrape, "threadkit_db_pool_connections", state="max") >= 2
            assert value(scrape, "threadkit_db_pool_connections", state="open") >= 1
    finally:
        stop_server(server)


def test_turns_errors_limits_and_uploads(chatkit_server: Server, project: str) -> None:
    before = samples(chatkit_server.url)
    chat(chatkit_server, project, "alice", workflow="parrot").create_thread("hello")
    broken = chat(chatkit_server, project, "alice", workflow="broken")
    broken.create_thread("fail")
    limited = chat(chatkit_server, project, "alice", rate_limits={"max_requests_per_1_minute": 1})
    limited.create_thread("one")
    assert limited.post("threads.list", {}).status_code == 429
    alice = uploader(chatkit_server, project)
    attachment = create(alice, "notes.txt", 11, "text/plain")
    url = attachment["upload_descriptor"]["url"]
    assert post_file(url, b"hello world", "text/plain").status_code == 200
    after = samples(chatkit_server.url)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("threadkit_streaming_turns_total") == 3
    assert grew("threadkit_streaming_first_event_seconds_count") == 3
    assert grew("threadkit_workflow_errors_total", workflow="broken") == 1
    assert grew("threadkit_rate_limited_total") == 1
    assert grew("threadkit_attachment_bytes_received_total") == 11
    assert grew("threadkit_http_requests_total", method="POST", route="/chatkit", status="429") == 1


def test_metrics_off_or_on_a_port(tmp_path: Path) -> None:
    from tests.conftest import free_port

    db = f"sqlite:///{tmp_path / 'threadkit.db'}"
    off = start_server(db, "sqlite", tmp_path, "--metrics", "off")
    try:
        assert httpx.get(f"{off.url}/metrics").status_code == 404
    finally:
        stop_server(off)
    port = free_port()
    apart = start_server(db, "sqlite", tmp_path, "--metrics", str(port), "--workers", "2")
    try:
        assert httpx.get(f"{apart.url}/metrics").status_code == 404
        for _ in range(5):
            httpx.get(f"{apart.url}/healthz")
        health = dict(method="GET", route="/healthz", status="200")
        # the start-up probe of start_server counts too
        scrape = settled(
            f"http://127.0.0.1:{port}",
            lambda s: value(s, "threadkit_http_requests_total", **health) >= 5,
        )
        assert value(scrape, "threadkit_http_requests_total", **health) >= 5
    finally:
        stop_server(apart)
