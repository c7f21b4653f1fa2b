"""threadkit's operator extensions: ``GET /v1/chatkit/export`` (the export format, as
``threadkit export`` writes it) and ``GET /v1/chatkit/threads/{thread_id}/feedback``,
through the official openai SDK's generic calls, on both backends."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.chatkit_helpers import Chat
from tests.conftest import Server, with_store
from tests.helpers import assistant_message, thread, user_message
from tests.test_rest_errors import assert_envelope
from threadkit.services.transfer import export_lines

BETA = {"OpenAI-Beta": "chatkit_beta=v1"}
#: more threads than a page of the export's listing, and more bytes than one chunk
THREADS = 130
TEXT = "padding " * 80


def get(client: openai.OpenAI, path: str, cast_to: Any = object, **query: Any) -> Any:
    return client.get(path, cast_to=cast_to, options={"headers": BETA, "params": query})


def post(client: openai.OpenAI, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, body=body, cast_to=object, options={"headers": BETA})


def said(text: str, role: str = "assistant") -> dict[str, Any]:
    if role == "user":
        return {"type": "chatkit.user_message", "content": [{"type": "input_text", "text": text}]}
    return {"type": "chatkit.assistant_message", "content": [{"type": "output_text", "text": text}]}


def seeded(server: Server, project: str) -> None:
    """``THREADS`` threads, every third one ben's, each with two items."""
    objects: list[dict[str, Any]] = []
    for n in range(THREADS):
        at = 1_700_000_000 + n
        t = thread("ben" if n % 3 == 0 else "ada", at, id=f"cthr_export{n:04d}", title=f"T{n}")
        objects += [
            t,
            user_message(t["id"], f"{n} {TEXT}", at, id=f"cthi_export{n:04d}0"),
            assistant_message(t["id"], f"{n} {TEXT}", at, id=f"cthi_export{n:04d}1"),
        ]
    server.seed(project, objects)


def service_export(server: Server, project: str, user: str | None = None) -> bytes:
    async def collect(store: Any) -> bytes:
        return b"".join([line async for line in export_lines(store, project, user)])

    return with_store(server.db, collect)


def cli_export(server: Server, project: str, *user: str) -> bytes:
    args = ["export", "--project", project, "--db", server.db, *user]
    done = subprocess.run(
        [sys.executable, "-m", "threadkit", *args], capture_output=True, check=True
    )
    return done.stdout


def test_the_export_is_the_bytes_threadkit_export_writes(server: Server, project: str) -> None:
    seeded(server, project)
    client = server.client(project)
    whole = get(client, "/chatkit/export", cast_to=httpx.Response)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "application/x-ndjson"
    assert whole.headers["cache-control"] == "no-store"
    assert whole.headers["x-request-id"].startswith("req_")
    assert len(whole.content) > 64 * 1024  # several chunks
    assert whole.content == service_export(server, project)
    assert whole.content == cli_export(server, project)
    lines = [orjson.loads(line) for line in whole.content.splitlines()]
    assert len(lines) == THREADS * 3
    assert [o["id"] for o in lines if o["object"] == "chatkit.thread"] == [
        f"cthr_export{n:04d}" for n in range(THREADS)
    ]

    ben = get(client, "/chatkit/export", cast_to=httpx.Response, user="ben")
    assert ben.content == service_export(server, project, "ben")
    assert ben.content == cli_export(server, project, "--user", "ben")
    threads = [orjson.loads(line) for line in ben.content.splitlines()][::3]
    assert {t["user"] for t in threads} == {"ben"} and len(threads) == (THREADS + 2) // 3
    assert get(client, "/chatkit/export", cast_to=httpx.Response, user="nobody").content == b""


def test_the_export_holds_only_the_keys_project(server: Server, project: str) -> None:
    post(server.client(project), "/chatkit/threads", {"user": "u", "items": [said("mine")]})
    stranger = server.client(project + "_other")
    assert get(stranger, "/chatkit/export", cast_to=httpx.Response).content == b""
    mine = get(server.client(project), "/chatkit/export", cast_to=httpx.Response).content
    assert b"mine" in mine and mine.count(b"\n") == 2


def test_export_errors_use_the_envelope(server: Server, project: str) -> None:
    with server.http() as anonymous:
        assert_envelope(anonymous.get("/v1/chatkit/export"), 401)
    with server.http(project) as http:
        too_long = http.get("/v1/chatkit/export", params={"user": "u" * 513})
        assert_envelope(too_long, 400, param="user", code="string_above_max_length")
        assert_envelope(http.post("/v1/chatkit/export"), 404)  # as the hosted API answers
    with pytest.raises(openai.AuthenticationError):
        get(openai.OpenAI(api_key="sk-wrong", base_url=server.base_url), "/chatkit/export")


def test_a_threads_feedback_marks(server: Server, project: str) -> None:
    client = server.client(project)
    t = post(
        client,
        "/chatkit/threads",
        {"user": "alice", "items": [said("hi", "user"), said("one"), said("two")]},
    )
    ids = [i["id"] for i in get(client, f"/chatkit/threads/{t['id']}/items", order="asc")["data"]]
    path = f"/chatkit/threads/{t['id']}/feedback"
    assert get(client, path) == {"object": "list", "data": [], "has_more": False}

    alice = Chat(server.url, server.key(project), {"X-ChatKit-User": "alice", **BETA})
    for item_id, kind in ((ids[1], "negative"), (ids[2], "negative"), (ids[1], "positive")):
        params = {"thread_id": t["id"], "item_ids": [item_id], "kind": kind}
        assert alice.call("items.feedback", params) == {}
    marks = get(client, path)
    assert marks["object"] == "list" and marks["has_more"] is False
    # one mark per item and user: the later one replaced the earlier, and comes last
    assert [
        {k: m[k] for k in ("object", "thread_id", "item_id", "user", "kind")} for m in marks["data"]
    ] == [
        {
            "object": "chatkit.feedback",
            "thread_id": t["id"],
            "item_id": ids[2],
            "user": "alice",
            "kind": "negative",
        },
        {
            "object": "chatkit.feedback",
            "thread_id": t["id"],
            "item_id": ids[1],
            "user": "alice",
            "kind": "positive",
        },
    ]
    assert all(isinstance(m["created_at"], int) for m in marks["data"])

    # another project's thread, a missing one and a deleted one are all not found
    for who, thread_id in (
        (server.client(project + "_other"), t["id"]),
        (client, "cthr_missing"),
    ):
        with pytest.raises(openai.NotFoundError) as missing:
            get(who, f"/chatkit/threads/{thread_id}/feedback")
        assert missing.value.body["message"] == f"No thread found with id '{thread_id}'."  # type: ignore[index]
    client.beta.chatkit.threads.delete(t["id"])
    with server.http(project) as http:
        assert_envelope(http.get(f"/v1{path}"), 404, code=None)
        assert_envelope(http.post(f"/v1{path}"), 404)
