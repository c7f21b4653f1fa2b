"""The chat page's one-time login token: printed by ``threadkit serve`` on loopback,
exchanged once for an API key, retired by the next ``serve``; and the page's workflow
list."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.chatkit_helpers import error_of
from tests.conftest import Server, serving, start_server, stop_server, with_store
from threadkit.services.ui_login import LOGIN_PROJECT, UILogin

PRINTED = re.compile(r"chat in the browser: (http://\S+)")


def printed_url(server: Server) -> str:
    found = PRINTED.findall(server.log.read_text())
    assert len(found) == 1, server.log.read_text()
    return found[0]


def token_of(url: str) -> str:
    match = re.search(r"\?token=([A-Za-z0-9_-]+)$", url)
    assert match, url
    return match.group(1)


def login(server: Server, token: object) -> httpx.Response:
    return httpx.post(server.url + "/ui/api/login", json={"token": token}, timeout=10)


def fresh_token(server: Server, project: str | None = None) -> str:
    return with_store(server.db, lambda store: UILogin(store).issue(project))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ui.db'}"


@pytest.fixture
def loopback_server(sqlite_db: str, tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own, for a test that uses up the printed token."""
    srv = start_server(sqlite_db, "sqlite", tmp_path)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def shared_loopback_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module's tests that leave its printed token unused."""
    folder = tmp_path_factory.mktemp("ui-login")
    with serving(start_server(f"sqlite:///{folder / 'ui.db'}", "sqlite", folder)) as srv:
        yield srv


def test_the_printed_token_signs_in_once(loopback_server: Server) -> None:
    srv = loopback_server
    url = printed_url(srv)
    assert url.startswith(f"{srv.url}/?token=")
    answer = login(srv, token_of(url))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["project"] == "default"
    assert set(body) == {"api_key", "project"}
    client = openai.OpenAI(api_key=body["api_key"], base_url=srv.base_url, max_retries=0)
    assert client.beta.chatkit.threads.list().data == []

    again = login(srv, token_of(url))
    assert again.status_code == 401
    assert error_of(again)["code"] == "invalid_login_token"
    assert error_of(again)["param"] == "token"


def test_a_token_is_not_an_api_key(loopback_server: Server, project: str) -> None:
    srv = loopback_server
    token = token_of(printed_url(srv))
    srv.key(project)
    listed = subprocess.run(
        [sys.executable, "-m", "threadkit", "keys", "list", "--db", srv.db],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert project in listed and LOGIN_PROJECT not in listed
    with httpx.Client(base_url=srv.url, headers={"OpenAI-Beta": "chatkit_beta=v1"}) as http:
        r = http.get("/v1/chatkit/threads", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert error_of(r)["code"] == "invalid_api_key"
        r = http.get("/ui/api/workflows", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
    # refusing it as a key did not use it up
    assert login(srv, token).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"token": ""}, {"token": "tk-made-up"}, {"token": 5}, {"nothing": 1}, [], "x"],
)
def test_anything_but_a_live_token_is_refused(shared_loopback_server: Server, body: object) -> None:
    r = httpx.post(shared_loopback_server.url + "/ui/api/login", json=body)
    assert r.status_code in (400, 401), r.text
    assert error_of(r)["param"] == "token"


def test_an_api_key_is_not_a_login_token(shared_loopback_server: Server, project: str) -> None:
    srv = shared_loopback_server
    r = login(srv, srv.key(project))
    assert r.status_code == 401
    r = httpx.post(
        srv.url + "/ui/api/login",
        content=f'{{"token": "{token_of(printed_url(srv))}"}}',
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 400  # JSON only (from another origin: a preflight)


def test_a_new_serve_retires_older_unused_tokens(sqlite_db: str, tmp_path: Path) -> None:
    first = start_server(sqlite_db, "sqlite", tmp_path)
    first_token = token_of(printed_url(first))
    spare = fresh_token(first)
    stop_server(first)
    second = start_server(sqlite_db, "sqlite", tmp_path)
    try:
        assert login(second, first_token).status_code == 401
        assert login(second, spare).status_code == 401
        assert login(second, token_of(printed_url(second))).status_code == 200
    finally:
        stop_server(second)


def test_with_workers_one_token_is_printed_and_every_worker_takes_tokens(
    sqlite_db: str, tmp_path: Path
) -> None:
    srv = start_server(sqlite_db, "sqlite", tmp_path, "--workers", "2")
    try:
        tokens = [token_of(printed_url(srv)), *(fresh_token(srv) for _ in range(7))]
        for token in tokens:
            # a new connection each time, so both workers take some of the exchanges
            assert login(srv, token).status_code == 200
        assert all(login(srv, t).status_code == 401 for t in tokens)
    finally:
        stop_server(srv)


def test_not_on_loopback_the_url_has_no_token(sqlite_db: str, tmp_path: Path) -> None:
    srv = start_server(sqlite_db, "sqlite", tmp_path, "--host", "0.0.0.0")
    try:
        url = printed_url(srv)
        assert "token" not in url
        assert url.startswith("http://0.0.0.0:")
        keys = with_store(srv.db, lambda store: store.list_keys())
        assert not [k for k in keys if k.project == LOGIN_PROJECT and k.revoked_at is None]
    finally:
        stop_server(srv)


def test_the_ui_project_is_configurable(sqlite_db: str, tmp_path: Path) -> None:
    srv = start_server(sqlite_db, "sqlite", tmp_path, env={"THREADKIT_UI_PROJECT": "team-a"})
    try:
        body = login(srv, token_of(printed_url(srv))).json()
        assert body["project"] == "team-a"
        # a token for a named project signs in to that one
        assert login(srv, fresh_token(srv, "team-b")).json()["project"] == "team-b"
    finally:
        stop_server(srv)
    config = tmp_path / "threadkit.toml"
    config.write_text('[server]\nui_project = "team-c"\n')
    srv = start_server(sqlite_db, "sqlite", tmp_path, "--config", str(config))
    try:
        assert login(srv, token_of(printed_url(srv))).json()["project"] == "team-c"
    finally:
        stop_server(srv)


def test_no_ui_prints_no_url_and_has_no_login(sqlite_db: str, tmp_path: Path) -> None:
    srv = start_server(sqlite_db, "sqlite", tmp_path, "--no-ui")
    try:
        assert "chat in the browser" not in srv.log.read_text()
        r = login(srv, "tk-anything")
        assert r.status_code == 404
    finally:
        stop_server(srv)


def test_two_exchanges_of_one_token_give_one_key(server: Server) -> None:
    """On both backends: the revocation decides, so exactly one of racing requests wins."""
    for _ in range(3):
        token = fresh_token(server)
        start = threading.Barrier(4)
        statuses: list[int] = []

        def exchange(token: str, start: threading.Barrier, statuses: list[int]) -> None:
            start.wait()
            statuses.append(login(server, token).status_code)

        threads = [
            threading.Thread(target=exchange, args=(token, start, statuses)) for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200, 401, 401, 401]


def test_the_workflow_list_needs_a_project_key(server: Server, project: str) -> None:
    with server.http(project) as http:
        r = http.get("/ui/api/workflows")
    assert r.status_code == 200
    assert r.json() == {
        "object": "list",
        "data": [{"name": "echo", "kind": "echo"}],
        "default": "echo",
    }
    assert httpx.get(server.url + "/ui/api/workflows").status_code == 401


def test_the_workflow_list_names_the_configured_ones(chatkit_server: Server, project: str) -> None:
    with chatkit_server.http(project) as http:
        body = http.get("/ui/api/workflows").json()
    kinds = {w["name"]: w["kind"] for w in body["data"]}
    assert kinds["parrot"] == "echo"
    assert kinds["llm"] == "openai-compatible"
    assert kinds["slow"] == "python"
    assert body["default"] == "shouty"
