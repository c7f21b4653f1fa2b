"""``--log-format json``: every line of the server's log is a JSON object; one access
line per request; failures carry the request id; no secret or message text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.chatkit_helpers import chat, start_chatkit_server, texts, wait_for
from tests.conftest import Server, stop_server

SECRET_TEXT = "the words of a private message 7f3a"


def lines(server: Server) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]


@pytest.fixture
def json_server(database: tuple[str, str], tmp_path: Path, model_stand_in: Any) -> Any:
    backend, url = database
    server = start_chatkit_server(
        backend, url, tmp_path, model_stand_in.base_url, "--log-format", "json", "--access-log"
    )
    yield server
    stop_server(server)


def test_json_lines(json_server: Server, project: str) -> None:
    key = json_server.key(project)
    missing = "cthr_" + "1" * 48
    with json_server.http(project) as http:
        response = http.get(f"/v1/chatkit/threads/{missing}")
    assert response.status_code == 404
    request_id = response.headers["x-request-id"]
    parrot = chat(json_server, project, "alice", workflow="parrot")
    thread_id, events = parrot.create_thread(SECRET_TEXT)
    assert texts(events) == [SECRET_TEXT]
    broken = chat(json_server, project, "alice", workflow="broken")
    broken_thread, _ = broken.create_thread("fail")

    def access() -> list[dict[str, Any]]:
        return [line for line in lines(json_server) if line["logger"] == "threadkit.access"]

    # a stream's access line is written once the stream has ended
    wait_for(lambda: sum(line["route"] == "/chatkit" for line in access()) == 2)
    every = lines(json_server)  # each line parsed as JSON, or the test fails here
    access_lines = access()
    (not_found,) = [line for line in access_lines if line["request_id"] == request_id]
    assert not_found["route"] == "/v1/chatkit/threads/{thread_id}"
    assert not_found["method"] == "GET"
    assert not_found["status"] == 404
    assert not_found["project"] == project
    assert isinstance(not_found["duration_ms"], float)
    assert not_found["time"].endswith("+00:00")
    logged_at = datetime.fromisoformat(not_found["time"])
    assert abs((datetime.now(UTC) - logged_at).total_seconds()) < 120
    turns = [line for line in access_lines if line["route"] == "/chatkit"]
    assert len(turns) == 2 and all(t["status"] == 200 and t["project"] == project for t in turns)
    sessions = [line for line in access_lines if line["route"] == "/v1/chatkit/sessions"]
    assert len(sessions) == 2 and all(s["project"] == project for s in sessions)

    (failure,) = [line for line in every if line.get("thread_id") == broken_thread]
    assert failure["level"] == "error"
    assert failure["workflow"] == "broken"
    assert "the workflow broke" in failure["traceback"]
    assert failure["request_id"] == turns[1]["request_id"]

    text = json_server.log.read_text()
    assert key not in text
    assert parrot.secret not in text and broken.secret not in text
    assert SECRET_TEXT not in text
    assert thread_id not in text  # a path parameter is never logged: the template is


def test_server_table_of_the_config_file(tmp_path: Path) -> None:
    """Every ``[server]`` setting of the operations guide is taken from the file."""
    import httpx

    from tests.conftest import start_server

    config = tmp_path / "threadkit.toml"
    config.write_text(
        '[server]\nmetrics = "off"\naccess_log = false\nlog_format = "json"\n'
        'log_level = "info"\nshutdown_timeout = 5\nattachments_url = ""\n'
    )
    db = f"sqlite:///{tmp_path / 'threadkit.db'}"
    server = start_server(db, "sqlite", tmp_path, "--config", str(config))
    try:
        assert httpx.get(f"{server.url}/metrics").status_code == 404
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        stop_server(server)
    logged = lines(server)  # JSON, every line
    assert logged and not any(line["logger"] == "threadkit.access" for line in logged)
