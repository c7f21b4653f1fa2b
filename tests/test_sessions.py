"""``/v1/chatkit/sessions``: create and cancel with the official SDK, validation with
dotted ``param`` paths, secrets, expiry and the per-session rate limit."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from tests.chatkit_helpers import Chat, error_of, new_session, wait_for
from tests.conftest import Server, start_server, stop_server, with_store
from tests.helpers import validate
from threadkit.services.sessions import SESSION_CACHE_SECONDS

SESSIONS = "/v1/chatkit/sessions"


def create_raw(server: Server, project: str, body: Any) -> Any:
    with server.http(project) as http:
        return http.post(SESSIONS, content=orjson.dumps(body))


def test_create_with_defaults(server: Server, project: str) -> None:
    before = time.time()
    session = new_session(server, project, "alice")
    assert session.id.startswith("cksess_")
    assert session.object == "chatkit.session"
    assert session.status == "active"
    assert session.user == "alice"
    assert len(session.client_secret) >= 32
    assert before + 600 <= session.expires_at <= time.time() + 601
    assert session.max_requests_per_1_minute == 10
    assert session.rate_limits.max_requests_per_1_minute == 10
    assert session.workflow.id == "echo"
    assert session.workflow.version is None
    assert session.workflow.state_variables is None
    assert session.workflow.tracing.enabled is True
    config = session.chatkit_configuration
    assert config.automatic_thread_titling.enabled is True
    assert (config.file_upload.enabled, config.file_upload.max_file_size) == (False, 512)
    assert config.file_upload.max_files == 10
    assert (config.history.enabled, config.history.recent_threads) == (True, None)


def test_create_response_matches_the_schema(server: Server, project: str) -> None:
    response = create_raw(
        server,
        project,
        {
            "user": "bob",
            "workflow": {
                "id": "echo",
                "version": "2024-10-01",
                "state_variables": {"plan": "pro", "beta": True, "score": 0.5},
                "tracing": {"enabled": False},
            },
            "expires_after": {"anchor": "created_at", "seconds": 30},
            "rate_limits": {"max_requests_per_1_minute": 3},
            "chatkit_configuration": {
                "automatic_thread_titling": {"enabled": False},
                "file_upload": {"enabled": True, "max_file_size": 16, "max_files": 20},
                "history": {"enabled": False, "recent_threads": 10},
            },
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body, "ChatSessionResource")
    assert list(body) == [
        "id",
        "object",
        "expires_at",
        "client_secret",
        "workflow",
        "user",
        "rate_limits",
        "max_requests_per_1_minute",
        "status",
        "chatkit_configuration",
    ]
    assert body["workflow"] == {
        "id": "echo",
        "version": "2024-10-01",
        "state_variables": {"plan": "pro", "beta": True, "score": 0.5},
        "tracing": {"enabled": False},
    }
    assert body["expires_at"] - time.time() <= 31
    assert body["rate_limits"] == {"max_requests_per_1_minute": 3}
    assert body["max_requests_per_1_minute"] == 3
    assert body["chatkit_configuration"] == {
        "automatic_thread_titling": {"enabled": False},
        "file_upload": {"enabled": True, "max_file_size": 16, "max_files": 20},
        "history": {"enabled": False, "recent_threads": 10},
    }


def test_integer_state_variables_are_accepted(server: Server, project: str) -> None:
    # (Not schema-checked: the spec's oneOf of integer and number rejects every integer.)
    created = server.client(project).beta.chatkit.sessions.create(
        user="alice", workflow={"id": "echo", "state_variables": {"seats": 5}}
    )
    assert created.workflow.state_variables == {"seats": 5}


BASE = {"user": "alice", "workflow": {"id": "echo"}}


def _with(path: str, value: Any) -> dict[str, Any]:
    body = orjson.loads(orjson.dumps(BASE))
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    if value is _DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return body


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "param", "code"),
    [
        ("user", "", "user", "empty_string"),
        ("user", _DELETE, "user", "missing_required_parameter"),
        ("user", 5, "user", "invalid_type"),
        ("workflow", _DELETE, "workflow", "missing_required_parameter"),
        ("workflow", "echo", "workflow", "invalid_type"),
        ("workflow.id", _DELETE, "workflow.id", "missing_required_parameter"),
        ("workflow.id", "no-such-workflow", "workflow.id", "invalid_value"),
        ("workflow.version", 3, "workflow.version", "invalid_type"),
        ("workflow.state_variables", [], "workflow.state_variables", "invalid_type"),
        (
            "workflow.state_variables",
            {f"k{i}": i for i in range(65)},
            "workflow.state_variables",
            "object_above_max_properties",
        ),
        ("workflow.state_variables", {"k" * 65: 1}, "workflow.state_variables", "invalid_key"),
        (
            "workflow.state_variables",
            {"nested": {"a": 1}},
            "workflow.state_variables.nested",
            "invalid_type",
        ),
        ("workflow.tracing.enabled", "yes", "workflow.tracing.enabled", "invalid_type"),
        ("workflow.colour", "red", "workflow.colour", "unknown_parameter"),
        ("expires_after", 1800, "expires_after", "invalid_type"),
        ("expires_after.anchor", "now", "expires_after.anchor", "invalid_value"),
        ("expires_after.seconds", 0, "expires_after.seconds", "integer_below_min_value"),
        ("expires_after.seconds", 601, "expires_after.seconds", "integer_above_max_value"),
        ("expires_after.seconds", "60", "expires_after.seconds", "invalid_type"),
        ("expires_after.seconds", 1.5, "expires_after.seconds", "invalid_type"),
        (
            "rate_limits.max_requests_per_1_minute",
            0,
            "rate_limits.max_requests_per_1_minute",
            "integer_below_min_value",
        ),
        (
            "rate_limits.max_requests_per_1_minute",
            True,
            "rate_limits.max_requests_per_1_minute",
            "invalid_type",
        ),
        (
            "chatkit_configuration.file_upload.max_file_size",
            513,
            "chatkit_configuration.file_upload.max_file_size",
            "integer_above_max_value",
        ),
        (
            "chatkit_configuration.file_upload.max_files",
            0,
            "chatkit_configuration.file_upload.max_files",
            "integer_below_min_value",
        ),
        (
            "chatkit_configuration.history.recent_threads",
            0,
            "chatkit_configuration.history.recent_threads",
            "integer_below_min_value",
        ),
        (
            "chatkit_configuration.automatic_thread_titling.enabled",
            1,
            "chatkit_configuration.automatic_thread_titling.enabled",
            "invalid_type",
        ),
        ("scope", {"project": "x"}, "scope", "unknown_parameter"),
    ],
)
def test_a_bad_field_is_a_400_naming_its_path(
    server: Server, project: str, path: str, value: Any, param: str, code: str
) -> None:
    body = _with(path, value)
    if path == "expires_after.anchor" or path.startswith("expires_after.seconds"):
        body["expires_after"].setdefault("anchor", "created_at")
        body["expires_after"].setdefault("seconds", 60)
    response = create_raw(server, project, body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert param in error["message"]


def test_expires_after_needs_both_fields(server: Server, project: str) -> None:
    response = create_raw(server, project, {**BASE, "expires_after": {"seconds": 60}})
    assert error_of(response)["param"] == "expires_after.anchor"
    response = create_raw(server, project, {**BASE, "expires_after": {"anchor": "created_at"}})
    assert error_of(response)["param"] == "expires_after.seconds"


def test_the_sdk_sees_validation_errors(server: Server, project: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        server.client(project).beta.chatkit.sessions.create(
            user="alice", workflow={"id": "unknown"}
        )
    assert caught.value.param == "workflow.id"
    assert "unknown" in caught.value.message


def test_bad_json_and_non_objects(server: Server, project: str) -> None:
    with server.http(project) as http:
        response = http.post(
            SESSIONS, content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert "JSON" in error_of(response)["message"]
        response = http.post(SESSIONS, content=b"[1, 2]")
        assert response.status_code == 400
        assert error_of(response)["code"] == "invalid_type"


def test_sessions_need_a_key_and_the_beta_header(server: Server, project: str) -> None:
    with server.http(None) as http:
        response = http.post(SESSIONS, json=BASE)
        assert response.status_code == 401
    with server.http(project, beta=False) as http:
        response = http.post(SESSIONS, json=BASE)
        assert response.status_code == 400
        assert error_of(response)["param"] == "OpenAI-Beta"


def test_the_secret_is_stored_only_as_a_hash(server: Server, project: str) -> None:
    session = new_session(server, project, "alice")
    digest = hashlib.sha256(session.client_secret.encode()).hexdigest()
    row = with_store(server.db, lambda store: store.find_session(digest))
    assert row is not None and row.id == session.id and row.user == "alice"
    assert session.client_secret not in repr(row)
    if server.backend == "sqlite":
        path = Path(server.db.removeprefix("sqlite:///"))
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
        assert digest.encode() in stored
        assert session.client_secret.encode() not in stored


def test_cancel(server: Server, project: str) -> None:
    client = server.client(project)
    session = new_session(server, project, "alice")
    chat = Chat(server.url, session.client_secret)
    assert chat.post("threads.list", {}).status_code == 200

    cancelled = client.beta.chatkit.sessions.cancel(session.id)
    assert cancelled.id == session.id
    assert cancelled.status == "cancelled"
    assert cancelled.client_secret != session.client_secret
    assert "*" in cancelled.client_secret
    assert cancelled.client_secret[-4:] == session.client_secret[-4:]
    assert cancelled.expires_at == session.expires_at

    response = chat.post("threads.list", {})
    assert response.status_code == 401
    assert error_of(response)["code"] == "session_cancelled"
    # Cancelling again changes nothing.
    assert client.beta.chatkit.sessions.cancel(session.id).status == "cancelled"


def test_a_cancel_made_by_another_server_takes_effect(
    server: Server, project: str, tmp_path: Path
) -> None:
    """A second server on the same database remembers the session it has just checked
    for a moment (``SESSION_CACHE_SECONDS``); a cancel made through the first one reaches
    it within that bound, and through the first server it takes effect at once."""
    other = start_server(server.db, server.backend, tmp_path)
    try:
        session = new_session(server, project, "alice")
        here = Chat(server.url, session.client_secret)
        there = Chat(other.url, session.client_secret)
        assert there.post("threads.list", {}).status_code == 200  # now remembered there
        server.client(project).beta.chatkit.sessions.cancel(session.id)
        assert here.post("threads.list", {}).status_code == 401
        response = wait_for(
            lambda: (r := there.post("threads.list", {})).status_code == 401 and r,
            timeout=SESSION_CACHE_SECONDS + 10,
        )
        assert error_of(response)["code"] == "session_cancelled"
    finally:
        stop_server(other)


def test_cancel_answer_matches_the_schema(server: Server, project: str) -> None:
    session = new_session(server, project, "alice")
    with server.http(project) as http:
        response = http.post(
            f"{SESSIONS}/{session.id}/cancel",
            content=b"",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body, "ChatSessionResource")
    assert body["status"] == "cancelled"


def test_cancel_unknown_or_foreign_session(server: Server, project: str) -> None:
    with pytest.raises(openai.NotFoundError):
        server.client(project).beta.chatkit.sessions.cancel("cksess_missing")
    other = new_session(server, project + "_other", "alice")
    with pytest.raises(openai.NotFoundError):
        server.client(project).beta.chatkit.sessions.cancel(other.id)
    # ...and the other project's session still works.
    assert Chat(server.url, other.client_secret).post("threads.list", {}).status_code == 200


def test_expiry(server: Server, project: str) -> None:
    client = server.client(project)
    session = client.beta.chatkit.sessions.create(
        user="alice", workflow={"id": "echo"}, expires_after={"anchor": "created_at", "seconds": 1}
    )
    chat = Chat(server.url, session.client_secret)
    assert session.expires_at - time.time() <= 2
    while time.time() < session.expires_at:
        time.sleep(0.05)
    response = chat.post("threads.list", {})
    assert response.status_code == 401
    assert error_of(response)["code"] == "session_expired"
    # Cancelling an expired session leaves it expired.
    assert client.beta.chatkit.sessions.cancel(session.id).status == "expired"


def test_unknown_and_missing_secrets(server: Server) -> None:
    assert error_of(Chat(server.url, "ek_" + "x" * 43).post("threads.list", {}))["code"] == (
        "invalid_client_secret"
    )
    response = Chat(server.url, "").post("threads.list", {})
    assert response.status_code == 401


def test_rate_limit(server: Server, project: str) -> None:
    session = new_session(server, project, "alice", rate_limits={"max_requests_per_1_minute": 3})
    chat = Chat(server.url, session.client_secret)
    for _ in range(3):
        assert chat.post("threads.list", {}).status_code == 200
    for _ in range(2):
        refused = chat.post("threads.list", {})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        error = error_of(refused)
        assert error["code"] == "rate_limit_exceeded"
    # Another session of the same user has a window of its own.
    other = new_session(server, project, "alice")
    assert Chat(server.url, other.client_secret).post("threads.list", {}).status_code == 200


def test_refused_requests_do_not_count(database: tuple[str, str]) -> None:
    """The window, on the store itself with chosen clock readings."""
    _, url = database

    async def scenario(store: Any) -> list[int | None]:
        slot = store.take_request_slot
        return [
            await slot("p_window", "cksess_w", 1_000, 2, 60_000),
            await slot("p_window", "cksess_w", 2_000, 2, 60_000),
            await slot("p_window", "cksess_w", 3_000, 2, 60_000),  # refused
            await slot("p_window", "cksess_w", 40_000, 2, 60_000),  # refused
            await slot("p_window", "cksess_w", 61_000, 2, 60_000),  # the first one left
            await slot("p_window", "cksess_w", 61_500, 2, 60_000),  # refused: 2 000 and 61 000
            await slot("p_window", "cksess_x", 61_500, 2, 60_000),  # another session
        ]

    assert with_store(url, scenario) == [None, None, 58_000, 21_000, None, 500, None]
