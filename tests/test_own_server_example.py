"""examples/own_server: a ChatKitServer of its own on a threadkit store, run as a real
process, and its threads read back through ``threadkit serve`` with the official SDK.

Runs on both backends (the ``database`` fixture); the example gets the test's own
project through its ``--project`` option, as ``threadkit serve`` gets it from the key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    UserMessageItem,
)

from tests.chatkit_helpers import REPO, Chat
from tests.conftest import PROBE, free_port, start_server, stop_server
from threadkit.web import CONTENT_SECURITY_POLICY

APP = REPO / "examples" / "own_server" / "app.py"
UI_FILES = REPO / "threadkit" / "web" / "ui"


@pytest.fixture
def example(database: tuple[str, str], project: str, tmp_path: Path) -> Iterator[str]:
    """The example app on a free loopback port; yields its URL."""
    port = free_port()
    log = tmp_path / "example.log"
    process = subprocess.Popen(
        [sys.executable, str(APP), "--db", database[1], "--project", project, "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        # this checkout's threadkit, wherever the interpreter has one installed
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the example exited:\n{log.read_text()}")
            try:
                PROBE.post(f"{url}/chatkit")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the example did not start:\n{log.read_text()}") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def as_user(url: str, user: str) -> Chat:
    return Chat(url, secret="", headers={"X-User": user})


def turn(events: list[Any]) -> list[tuple[str, str]]:
    """``(id, text)`` of the user message and of the answer a stream completed, asserting
    the answer streamed in more than one delta."""
    done = [e.item for e in events if isinstance(e, ThreadItemDoneEvent)]
    assert [type(i) for i in done] == [UserMessageItem, AssistantMessageItem]
    deltas = [
        e.update.delta
        for e in events
        if isinstance(e, ThreadItemUpdatedEvent)
        and isinstance(e.update, AssistantMessageContentPartTextDelta)
    ]
    assert len(deltas) > 1 and "".join(deltas) == done[1].content[0].text
    return [(i.id, i.content[0].text) for i in done]


def texts(turns: list[tuple[str, str]]) -> list[str]:
    return [text for _, text in turns]


def rest_items(client: Any, thread_id: str) -> list[tuple[str, str]]:
    """``(id, text)`` of the thread's items, oldest first, asserting they alternate
    between the user's messages and the answers."""
    items = list(client.beta.chatkit.threads.list_items(thread_id, order="asc"))
    kinds = ["chatkit.user_message", "chatkit.assistant_message"] * (len(items) // 2)
    assert [i.type for i in items] == kinds
    return [(i.id, i.content[0].text) for i in items]


def test_threads_of_the_example_are_served_by_threadkit(
    database: tuple[str, str], project: str, example: str, tmp_path: Path
) -> None:
    alice, bob = as_user(example, "alice"), as_user(example, "bob")
    assert httpx.post(f"{example}/chatkit", json={"type": "threads.list"}).status_code == 401

    thread_id, events = alice.create_thread("Hello, threadkit!")
    assert thread_id.startswith("cthr_")
    written = turn(events)
    assert texts(written) == ["Hello, threadkit!", "!tikdaerht ,olleH"]
    written += turn(alice.say(thread_id, "one two three"))
    assert texts(written)[2:] == ["one two three", "eerht owt eno"]

    listed = alice.call("threads.list", {})
    assert [t["id"] for t in listed["data"]] == [thread_id]
    assert bob.call("threads.list", {})["data"] == []
    assert bob.post("threads.get_by_id", {"thread_id": thread_id}).status_code == 404

    backend, db = database
    served = start_server(db, backend, tmp_path)
    try:
        client = served.client(project)
        threads = client.beta.chatkit.threads.list(user="alice").data
        assert [(t.id, t.user) for t in threads] == [(thread_id, "alice")]
        assert client.beta.chatkit.threads.retrieve(thread_id).user == "alice"
        assert client.beta.chatkit.threads.list(user="bob").data == []
        assert rest_items(client, thread_id) == written

        # Written while threadkit serve runs: visible to it at once.
        written += turn(alice.say(thread_id, "live now"))
        assert texts(written)[4:] == ["live now", "won evil"]
        assert rest_items(client, thread_id) == written
        # The example's project is the key's: another project's key sees nothing.
        other = served.client(f"{project}_other")
        assert other.beta.chatkit.threads.list(user="alice").data == []
    finally:
        stop_server(served)


def test_the_example_serves_its_page_and_the_component_files(example: str) -> None:
    page = httpx.get(f"{example}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/chat.js">' in page.text
    script = httpx.get(f"{example}/chat.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "import '/ui/threadkit-chat.js';" in script.text
    # /ui is threadkit.web's app: its files byte for byte, its headers and its 404s
    for path in sorted(UI_FILES.rglob("*")):
        relative = path.relative_to(UI_FILES).as_posix()
        if path.is_file() and not any(p.startswith(".") for p in relative.split("/")):
            served = httpx.get(f"{example}/ui/{relative}", headers={"accept-encoding": "identity"})
            assert served.content == path.read_bytes(), relative
    missing = httpx.get(f"{example}/ui/no-such-file.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Invalid URL (GET /ui/no-such-file.js)"
    assert missing.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # without threadkit's page, whose sign-in needs threadkit's own routes
    assert httpx.get(f"{example}/ui/page/page.js").status_code == 404
    assert httpx.get(f"{example}/ui/.keep").status_code == 404
