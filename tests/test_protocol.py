"""``POST /chatkit`` over real HTTP: the whole loop with the echo workflow, then the
same threads read back through the official SDK's REST calls; isolation, refusals
before a stream, bad bodies, feedback, titles, history and a client that goes away."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from chatkit.types import (
    AssistantMessageItem,
    ThreadCreatedEvent,
    ThreadItemUpdatedEvent,
    ThreadUpdatedEvent,
    UserMessageItem,
)

from tests import helpers
from tests.chatkit_helpers import (
    CORS_ORIGIN,
    Chat,
    chat,
    done_items,
    error_of,
    new_session,
    sse_messages,
    texts,
    user_input,
    wait_for,
)
from tests.conftest import Server

# --- the whole loop ----------------------------------------------------------------------


def test_session_message_stream_and_rest_read(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    thread_id, events = alice.create_thread("Hello, threadkit!")

    assert isinstance(events[0], ThreadCreatedEvent)
    assert thread_id.startswith("cthr_")
    users = done_items(events, UserMessageItem)
    assert [u.content[0].text for u in users] == ["Hello, threadkit!"]
    assert texts(events) == ["Hello, threadkit!"]
    deltas = [e for e in events if isinstance(e, ThreadItemUpdatedEvent)]
    assert any(getattr(e.update, "delta", None) == "Hello, threadkit!" for e in deltas)
    titled = [e for e in events if isinstance(e, ThreadUpdatedEvent)]
    assert titled and titled[-1].thread.title == "Hello, threadkit!"

    assert texts(alice.say(thread_id, "Second message")) == ["Second message"]

    client = server.client(project)
    thread = client.beta.chatkit.threads.retrieve(thread_id)
    assert (thread.user, thread.title, thread.status.type) == (
        "alice",
        "Hello, threadkit!",
        "active",
    )
    items = list(client.beta.chatkit.threads.list_items(thread_id, order="asc"))
    assert [(i.type, i.content[0].text) for i in items] == [
        ("chatkit.user_message", "Hello, threadkit!"),
        ("chatkit.assistant_message", "Hello, threadkit!"),
        ("chatkit.user_message", "Second message"),
        ("chatkit.assistant_message", "Second message"),
    ]
    with server.http(project) as http:
        for item in http.get(f"/v1/chatkit/threads/{thread_id}/items").json()["data"]:
            helpers.validate(item, "ThreadItem")
    listed = [t.id for t in client.beta.chatkit.threads.list(user="alice")]
    assert listed == [thread_id]

    # The protocol's own reads agree.
    got = alice.call("threads.get_by_id", {"thread_id": thread_id})
    assert (got["id"], got["title"]) == (thread_id, "Hello, threadkit!")
    assert [i["type"] for i in got["items"]["data"]] == [
        "user_message",
        "assistant_message",
        "user_message",
        "assistant_message",
    ]
    page = alice.call("items.list", {"thread_id": thread_id, "order": "desc", "limit": 1})
    assert page["has_more"] is True
    assert page["data"][0]["content"][0]["text"] == "Second message"
    assert [t["id"] for t in alice.call("threads.list", {})["data"]] == [thread_id]


def test_update_and_delete(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    thread_id, _ = alice.create_thread("rename me")
    updated = alice.call("threads.update", {"thread_id": thread_id, "title": "Renamed"})
    assert updated["title"] == "Renamed"
    client = server.client(project)
    assert client.beta.chatkit.threads.retrieve(thread_id).title == "Renamed"
    assert alice.call("threads.delete", {"thread_id": thread_id}) == {}
    with pytest.raises(openai.NotFoundError):
        client.beta.chatkit.threads.retrieve(thread_id)


def test_retry_after_item(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    thread_id, events = alice.create_thread("again")
    user_item = done_items(events, UserMessageItem)[0]
    first_answer = done_items(events, AssistantMessageItem)[0]
    retried = alice.stream(
        "threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item.id}
    )
    assert texts(retried) == ["again"]
    items = list(server.client(project).beta.chatkit.threads.list_items(thread_id, order="asc"))
    assert [i.type for i in items] == ["chatkit.user_message", "chatkit.assistant_message"]
    assert items[1].id != first_answer.id


def test_project_api_key_and_user_header(server: Server, project: str) -> None:
    caller = Chat(server.url, server.key(project), headers={"X-ChatKit-User": "svc-user"})
    thread_id, events = caller.create_thread("from a backend")
    assert texts(events) == ["from a backend"]
    assert server.client(project).beta.chatkit.threads.retrieve(thread_id).user == "svc-user"

    response = Chat(server.url, server.key(project)).post("threads.list", {})
    assert response.status_code == 400
    assert error_of(response)["param"] == "X-ChatKit-User"
    response = Chat(
        server.url,
        server.key(project),
        headers={"X-ChatKit-User": "u", "X-ChatKit-Workflow": "nope"},
    ).post("threads.list", {})
    assert error_of(response)["param"] == "X-ChatKit-Workflow"


# --- isolation ---------------------------------------------------------------------------


def _same_error(a: httpx.Response, b: httpx.Response, missing: str, foreign: str) -> None:
    assert a.status_code == b.status_code == 404
    ea, eb = error_of(a), error_of(b)
    assert ea["message"].replace(missing, foreign) == eb["message"]
    assert (ea["type"], ea["param"], ea["code"]) == (eb["type"], eb["param"], eb["code"])


def test_another_users_thread_is_a_404_like_a_missing_one(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    thread_id, _ = alice.create_thread("private")
    bob = chat(server, project, "bob")
    missing = "cthr_" + "0" * 48

    cases: list[tuple[str, dict[str, Any]]] = [
        ("threads.get_by_id", {"thread_id": "{}"}),
        ("items.list", {"thread_id": "{}"}),
        ("threads.update", {"thread_id": "{}", "title": "mine now"}),
        ("threads.delete", {"thread_id": "{}"}),
        ("threads.add_user_message", {"thread_id": "{}", "input": user_input("hi")}),
        ("items.feedback", {"thread_id": "{}", "item_ids": ["x"], "kind": "positive"}),
    ]
    for kind, template in cases:

        def params(tid: str, template: dict[str, Any] = template) -> dict[str, Any]:
            return {k: (tid if v == "{}" else v) for k, v in template.items()}

        _same_error(
            bob.post(kind, params(missing)), bob.post(kind, params(thread_id)), missing, thread_id
        )

    assert bob.call("threads.list", {})["data"] == []
    thread = server.client(project).beta.chatkit.threads.retrieve(thread_id)
    assert (thread.title, thread.user) == ("private", "alice")
    items = list(server.client(project).beta.chatkit.threads.list_items(thread_id))
    assert len(items) == 2


def test_projects_are_isolated(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    thread_id, _ = alice.create_thread("project one")
    elsewhere = chat(server, project + "_b", "alice")
    assert elsewhere.post("threads.get_by_id", {"thread_id": thread_id}).status_code == 404
    assert elsewhere.call("threads.list", {})["data"] == []
    with pytest.raises(openai.NotFoundError):
        server.client(project + "_b").beta.chatkit.threads.retrieve(thread_id)


# --- refused before a stream -------------------------------------------------------------


def test_missing_thread_is_a_404_before_any_stream(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    for kind, params in [
        ("threads.add_user_message", {"thread_id": "cthr_nope", "input": user_input("hi")}),
        ("threads.retry_after_item", {"thread_id": "cthr_nope", "item_id": "cthi_x"}),
        ("threads.add_client_tool_output", {"thread_id": "cthr_nope", "result": {}}),
    ]:
        response = alice.post(kind, params)
        assert response.status_code == 404, kind
        assert "cthr_nope" in error_of(response)["message"]


def test_missing_item_is_a_404_before_any_stream(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    thread_id, _ = alice.create_thread("hello")
    response = alice.post(
        "threads.retry_after_item", {"thread_id": thread_id, "item_id": "cthi_missing"}
    )
    assert response.status_code == 404
    assert "cthi_missing" in error_of(response)["message"]
    response = alice.post("threads.add_client_tool_output", {"thread_id": thread_id, "result": 1})
    assert response.status_code == 400
    assert error_of(response)["code"] == "no_pending_tool_call"


@pytest.mark.parametrize("status", ["locked", "closed"])
def test_locked_or_closed_threads_refuse_input(server: Server, project: str, status: str) -> None:
    thread = helpers.thread(user="alice", status={"type": status, "reason": "moderation"})
    server.seed(project, [thread, helpers.user_message(thread["id"])])
    alice = chat(server, project, "alice")
    response = alice.post(
        "threads.add_user_message", {"thread_id": thread["id"], "input": user_input("let me in")}
    )
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == f"thread_{status}"
    assert "moderation" in error["message"]
    items = list(server.client(project).beta.chatkit.threads.list_items(thread["id"]))
    assert len(items) == 1
    # Reading still works.
    assert alice.call("threads.get_by_id", {"thread_id": thread["id"]})["status"]["type"] == status


def test_unsupported_requests(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    response = alice.post("input.transcribe", {"audio_base64": "AAAA", "mime_type": "audio/webm"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "unsupported"
    assert "not supported by this workflow" in error["message"]

    thread_id, _ = alice.create_thread("hi")
    response = alice.post(
        "threads.custom_action",
        {"thread_id": thread_id, "action": {"type": "do.something", "payload": {}}},
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "unsupported"


# --- bad bodies --------------------------------------------------------------------------


def _raw(server: Server, secret: str, content: bytes | Iterator[bytes]) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.post(
            "/chatkit",
            content=content,
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        )


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (b"{oops", None, "invalid_json"),
        (b"", None, "invalid_json"),
        (b"[1, 2]", None, "invalid_type"),
        (b'{"params": {}}', "type", "missing_required_parameter"),
        (b'{"type": "threads.explode", "params": {}}', "type", "invalid_value"),
        (b'{"type": 7, "params": {}}', "type", "invalid_value"),
        (b'{"type": "threads.create"}', "params", "missing_required_parameter"),
        (
            b'{"type": "threads.create", "params": {"input": {"content": "hi", '
            b'"attachments": [], "inference_options": {}}}}',
            "params.input.content",
            "invalid_value",
        ),
        (
            b'{"type": "threads.list", "params": {"limit": "many"}}',
            "params.limit",
            "invalid_value",
        ),
        (
            b'{"type": "items.feedback", "params": {"thread_id": "t", "item_ids": ["i"], '
            b'"kind": "meh"}}',
            "params.kind",
            "invalid_value",
        ),
    ],
)
def test_bad_bodies_are_400s(
    server: Server, project: str, body: bytes, param: str | None, code: str
) -> None:
    session = new_session(server, project, "alice")
    response = _raw(server, session.client_secret, body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["param"], error["code"]) == (param, code)
    if param:
        assert param in error["message"]


def test_huge_bodies_are_413s(server: Server, project: str) -> None:
    session = new_session(server, project, "alice")
    big = (
        b'{"type": "threads.list", "params": {}, "metadata": {"pad": "' + b"x" * (1 << 20) + b'"}}'
    )
    response = _raw(server, session.client_secret, big)
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"

    def chunked() -> Iterator[bytes]:  # no content-length: counted as it arrives
        yield big[: 1 << 19]
        yield big[1 << 19 :]

    response = _raw(server, session.client_secret, chunked())
    assert response.status_code == 413
    # Just under the limit is fine.
    fits = b'{"type": "threads.list", "params": {}, "metadata": {"pad": "' + b"x" * 1000 + b'"}}'
    assert _raw(server, session.client_secret, fits).status_code == 200


def test_no_beta_header_needed_and_no_key_refused(server: Server, project: str) -> None:
    session = new_session(server, project, "alice")
    with httpx.Client(base_url=server.url) as client:
        response = client.post(
            "/chatkit",
            json={"type": "threads.list", "params": {}},
            headers={"Authorization": f"Bearer {session.client_secret}"},
        )
        assert response.status_code == 200
        response = client.post("/chatkit", json={"type": "threads.list", "params": {}})
        assert response.status_code == 401
        response = client.post(
            "/chatkit",
            json={"type": "threads.list", "params": {}},
            headers={"Authorization": "Bearer tk-not-a-key"},
        )
        assert response.status_code == 401


# --- feedback, titles, history -----------------------------------------------------------


def test_feedback_is_stored_and_exported(server: Server, project: str, tmp_path: Path) -> None:
    alice = chat(server, project, "alice")
    thread_id, events = alice.create_thread("rate me")
    answer = done_items(events, AssistantMessageItem)[0]
    assert (
        alice.call(
            "items.feedback", {"thread_id": thread_id, "item_ids": [answer.id], "kind": "negative"}
        )
        == {}
    )
    assert (
        alice.call(
            "items.feedback", {"thread_id": thread_id, "item_ids": [answer.id], "kind": "positive"}
        )
        == {}
    )
    response = alice.post(
        "items.feedback", {"thread_id": thread_id, "item_ids": ["cthi_nope"], "kind": "positive"}
    )
    assert response.status_code == 404

    def export() -> list[dict[str, Any]]:
        out = tmp_path / "feedback.jsonl"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "threadkit",
                "feedback",
                "export",
                "--project",
                project,
                "--db",
                server.db,
                "--out",
                str(out),
            ],
            check=True,
            capture_output=True,
        )
        return [json.loads(line) for line in out.read_text().splitlines()]

    lines = export()
    assert len(lines) == 1
    assert {k: lines[0][k] for k in ("object", "thread_id", "item_id", "user", "kind")} == {
        "object": "chatkit.feedback",
        "thread_id": thread_id,
        "item_id": answer.id,
        "user": "alice",
        "kind": "positive",
    }
    server.client(project).beta.chatkit.threads.delete(thread_id)
    assert export() == []


def test_titles_follow_the_session_setting(server: Server, project: str) -> None:
    long_text = "Please summarise the quarterly numbers for the northern region " * 3
    titled = chat(server, project, "alice")
    thread_id, _ = titled.create_thread(long_text)
    title = server.client(project).beta.chatkit.threads.retrieve(thread_id).title
    assert title is not None and title.endswith("…") and len(title) <= 61
    assert long_text.startswith(title[:-1])

    untitled = chat(
        server,
        project,
        "alice",
        chatkit_configuration={"automatic_thread_titling": {"enabled": False}},
    )
    thread_id, events = untitled.create_thread("no title please")
    assert not [e for e in events if isinstance(e, ThreadUpdatedEvent)]
    assert server.client(project).beta.chatkit.threads.retrieve(thread_id).title is None


def test_history_settings_limit_threads_list(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    made = [alice.create_thread(f"thread {i}")[0] for i in range(3)]
    assert [t["id"] for t in alice.call("threads.list", {})["data"]] == made[::-1]

    recent = chat(
        server, project, "alice", chatkit_configuration={"history": {"recent_threads": 2}}
    )
    page = recent.call("threads.list", {"limit": 1})
    assert ([t["id"] for t in page["data"]], page["has_more"]) == ([made[2]], True)
    page = recent.call("threads.list", {"limit": 5, "after": page["after"]})
    assert ([t["id"] for t in page["data"]], page["has_more"]) == ([made[1]], False)
    ascending = recent.call("threads.list", {"order": "asc"})
    assert [t["id"] for t in ascending["data"]] == [made[1], made[2]]

    hidden = chat(server, project, "alice", chatkit_configuration={"history": {"enabled": False}})
    assert hidden.call("threads.list", {})["data"] == []
    # The threads themselves are still the user's.
    assert hidden.call("threads.get_by_id", {"thread_id": made[0]})["id"] == made[0]


# --- a client that goes away -------------------------------------------------------------


def test_disconnect_mid_stream_keeps_the_partial_answer(
    chatkit_server: Server, project: str
) -> None:
    alice = chat(chatkit_server, project, "alice", workflow="slow")
    thread_id, events = alice.create_thread("first")
    assert texts(events) == ["partial done: first"]

    with (
        alice.http() as client,
        client.stream(
            "POST",
            "/chatkit",
            json={
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("wait")},
            },
        ) as response,
    ):
        assert response.status_code == 200
        for _, data in sse_messages(response.iter_lines()):
            if '"delta":"partial "' in data:
                break  # leave mid-answer: closing the response drops the connection

    rest = chatkit_server.client(project).beta.chatkit.threads

    def saved() -> list[Any]:
        items = list(rest.list_items(thread_id, order="asc"))
        return items if len(items) == 4 else []

    items = wait_for(saved)
    assert [(i.type, i.content[0].text) for i in items] == [
        ("chatkit.user_message", "first"),
        ("chatkit.assistant_message", "partial done: first"),
        ("chatkit.user_message", "wait"),
        ("chatkit.assistant_message", "partial "),
    ]
    # The thread stays usable, and the protocol hides the cancellation marker.
    assert texts(alice.say(thread_id, "next")) == ["partial done: next"]
    protocol_items = alice.call("items.list", {"thread_id": thread_id, "order": "asc"})["data"]
    assert [i["type"] for i in protocol_items] == ["user_message", "assistant_message"] * 3


def test_stream_frames_are_server_sent_events(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    with (
        alice.http() as client,
        client.stream(
            "POST",
            "/chatkit",
            json={"type": "threads.create", "params": {"input": user_input("x")}},
        ) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-length" not in response.headers
        raw = response.read().decode()
    assert raw.endswith("\n\n")
    messages = list(sse_messages(raw.split("\n")))
    assert messages and all(event == "message" for event, _ in messages)
    kinds = [json.loads(data)["type"] for _, data in messages]
    assert kinds[0] == "thread.created"
    assert kinds[-1] == "thread.item.done"


# --- CORS --------------------------------------------------------------------------------


def test_cors_for_the_configured_origin(chatkit_server: Server) -> None:
    with httpx.Client(base_url=chatkit_server.url) as client:
        preflight = client.options(
            "/chatkit",
            headers={
                "Origin": CORS_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == CORS_ORIGIN
        refused = client.options(
            "/chatkit",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.headers.get("access-control-allow-origin") != "http://evil.example"
        answer = client.post("/chatkit", json={}, headers={"Origin": CORS_ORIGIN})
        assert answer.status_code == 401
        assert answer.headers["access-control-allow-origin"] == CORS_ORIGIN
