"""SIGTERM during a streamed turn: the turn finishes within the shutdown timeout, or is
ended cleanly with what was streamed saved; the server exits 0 and a new one on the
same database serves the thread."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chatkit_helpers import (
    EVENT,
    Chat,
    chat,
    sse_messages,
    start_chatkit_server,
    user_input,
)
from tests.conftest import Server, stop_server

TEXT_DELTA = "assistant_message.content_part.text_delta"


def stream_then_signal(client: Chat, server: Server, text: str, sig: int) -> list[Any]:
    """Start a turn; once its first text delta arrived, send ``sig`` to the server; read
    the stream to its end (a broken stream fails here)."""
    events: list[Any] = []
    signalled = threading.Event()
    body = {"type": "threads.create", "params": {"input": user_input(text)}}
    with client.http() as http, http.stream("POST", "/chatkit", json=body) as response:
        assert response.status_code == 200
        for _, data in sse_messages(response.iter_lines()):
            events.append(EVENT.validate_json(data))
            update = getattr(events[-1], "update", None)
            if not signalled.is_set() and getattr(update, "type", "") == TEXT_DELTA:
                server.process.send_signal(sig)
                signalled.set()
    assert signalled.is_set()
    return events


def streamed_text(events: list[Any]) -> str:
    return "".join(
        e.update.delta
        for e in events
        if e.type == "thread.item.updated"
        and e.update.type == "assistant_message.content_part.text_delta"
    )


def stored_text(server: Server, project: str, thread_id: str) -> str:
    with server.http(project) as http:
        items = http.get(f"/v1/chatkit/threads/{thread_id}/items", params={"order": "asc"})
    assert items.status_code == 200, items.text
    answers = [i for i in items.json()["data"] if i["type"] == "chatkit.assistant_message"]
    assert len(answers) == 1
    return "".join(part["text"] for part in answers[0]["content"])


@pytest.mark.parametrize("engine", ["granian", "uvicorn"])
@pytest.mark.parametrize(
    ("steps", "timeout", "complete"),
    [("5", "30", True), ("1000", "1", False)],
    ids=["finishes", "ended"],
)
def test_sigterm_mid_stream(
    database: tuple[str, str],
    tmp_path: Path,
    model_stand_in: Any,
    project: str,
    engine: str,
    steps: str,
    timeout: str,
    complete: bool,
) -> None:
    backend, url = database
    options = ("--server", engine, "--shutdown-timeout", timeout)
    server = start_chatkit_server(backend, url, tmp_path, model_stand_in.base_url, *options)
    try:
        client = chat(server, project, "alice", workflow="steps")
        events = stream_then_signal(client, server, steps, signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0, server.log.read_text()
    finally:
        stop_server(server)
    thread_id = events[0].thread.id
    text = streamed_text(events)
    done = [
        e for e in events if e.type == "thread.item.done" and e.item.type == "assistant_message"
    ]
    if complete:
        assert text == "step 1 step 2 step 3 step 4 step 5 "
        assert len(done) == 1
    else:
        assert text.startswith("step 1 ") and not done
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/healthz", timeout=2)
    (tmp_path / "again").mkdir()
    again = start_chatkit_server(backend, url, tmp_path / "again", model_stand_in.base_url)
    try:
        again._keys = server._keys
        stored = stored_text(again, project, thread_id)
        # Ended, the turn saves what the workflow produced: what was streamed, and maybe
        # a delta that was on its way, as when a client disconnects.
        assert stored == text if complete else stored.startswith(text)
    finally:
        stop_server(again)
