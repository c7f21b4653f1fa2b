"""NUL characters: PostgreSQL text cannot hold them, so both backends refuse them the
same way (a 400), or keep them only where JSON can (message text)."""

from __future__ import annotations

from pathlib import Path

import openai
import orjson
import pytest

from tests.chatkit_helpers import chat, error_of
from tests.conftest import Server
from tests.helpers import thread
from tests.test_cli import threadkit


@pytest.mark.parametrize("param", ["user", "after", "before"])
def test_rest_query_with_nul_is_400(server: Server, project: str, param: str) -> None:
    with server.http(project) as http:
        r = http.get("/v1/chatkit/threads", params={param: "a\x00b"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == param


def test_thread_id_with_nul_is_404(server: Server, project: str) -> None:
    with pytest.raises(openai.NotFoundError):
        server.client(project).beta.chatkit.threads.retrieve("cthr_\x00")


def test_import_with_nul_in_ids_fails_with_the_line(
    server: Server, project: str, tmp_path: Path
) -> None:
    path = tmp_path / "nul.jsonl"
    path.write_bytes(orjson.dumps(thread()) + b"\n" + orjson.dumps(thread(user="u\x00")) + b"\n")
    result = threadkit("import", str(path), "--project", project, "--db", server.db, check=False)
    assert result.returncode != 0 and "line 2" in result.stderr and "user" in result.stderr
    assert list(server.client(project).beta.chatkit.threads.list()) == []


def test_session_user_with_nul_is_400(server: Server, project: str) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        server.client(project).beta.chatkit.sessions.create(
            user="bad\x00user", workflow={"id": "echo"}
        )
    assert exc.value.param == "user"


def test_protocol_text_with_nul_is_kept_and_titles_stay_clean(server: Server, project: str) -> None:
    alice = chat(server, project, "alice")
    thread_id, _ = alice.create_thread("hello\x00world")
    got = server.client(project).beta.chatkit.threads.retrieve(thread_id)
    assert got.title is not None and "\x00" not in got.title
    items = list(server.client(project).beta.chatkit.threads.list_items(thread_id, order="asc"))
    assert items[0].content[0].text == "hello\x00world"  # type: ignore[union-attr]

    r = alice.post("threads.update", {"thread_id": thread_id, "title": "bad\x00title"})
    assert r.status_code == 400, r.text
    assert error_of(r)["param"] == "params.title"
    assert server.client(project).beta.chatkit.threads.retrieve(thread_id).title == got.title
