"""Workflows: the TOML config, ``openai-compatible`` against a stand-in Chat Completions
server on loopback (the real streaming wire format), ``python`` workflows (the
example in examples/ included), and errors inside a stream."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from chatkit.types import ErrorEvent

from tests.chatkit_helpers import MODEL_KEY, Chat, chat, error_of, new_session, texts
from tests.conftest import Server
from tests.stand_in import StandIn
from threadkit.workflows.config import ConfigError, load_registry

# --- openai-compatible -------------------------------------------------------------------


def test_openai_compatible_streams_with_history_and_state(
    chatkit_server: Server, project: str, model_stand_in: StandIn
) -> None:
    alice = chat(
        chatkit_server,
        project,
        "alice",
        workflow="llm",
        state_variables={"plan": "pro", "seats": 3},
    )
    first = len(model_stand_in.requests)
    thread_id, events = alice.create_thread("What is my plan?")
    assert texts(events) == ["You said: What is my plan?"]
    deltas = [getattr(e.update, "delta", None) for e in events if e.type == "thread.item.updated"]
    assert [d for d in deltas if d] == ["You ", "said: ", "What is my plan?"]

    sent = model_stand_in.requests[first]
    assert sent["model"] == "stand-in-model"
    assert sent["stream"] is True
    assert sent["temperature"] == 0.5
    assert model_stand_in.headers_seen[first]["authorization"] == f"Bearer {MODEL_KEY}"
    assert sent["messages"] == [
        {"role": "system", "content": "You help alice on the pro plan."},
        {
            "role": "system",
            "content": 'Session state variables (JSON): {"plan": "pro", "seats": 3}',
        },
        {"role": "user", "content": "What is my plan?"},
    ]

    assert texts(alice.say(thread_id, "And my seats?")) == ["You said: And my seats?"]
    assert model_stand_in.requests[-1]["messages"][2:] == [
        {"role": "user", "content": "What is my plan?"},
        {"role": "assistant", "content": "You said: What is my plan?"},
        {"role": "user", "content": "And my seats?"},
    ]
    items = list(
        chatkit_server.client(project).beta.chatkit.threads.list_items(thread_id, order="asc")
    )
    assert [i.content[0].text for i in items] == [
        "What is my plan?",
        "You said: What is my plan?",
        "And my seats?",
        "You said: And my seats?",
    ]


def test_model_server_failure_is_an_error_event(chatkit_server: Server, project: str) -> None:
    alice = chat(chatkit_server, project, "alice", workflow="llm")
    thread_id, events = alice.create_thread("please FAIL")
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1
    assert errors[0].allow_retry is True
    assert "model server" in (errors[0].message or "")
    assert texts(events) == []
    # The user's message is kept; the thread goes on.
    assert texts(alice.say(thread_id, "fine now")) == ["You said: fine now"]


# --- python workflows and config ---------------------------------------------------------


def test_errors_inside_a_stream_end_it_cleanly(chatkit_server: Server, project: str) -> None:
    alice = chat(chatkit_server, project, "alice", workflow="broken")
    thread_id, events = alice.create_thread("fail")
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert [e.code for e in errors] == ["stream.error"]
    assert texts(events) == []
    assert texts(alice.say(thread_id, "ok")) == ["ok"]

    odd = chat(chatkit_server, project, "alice", workflow="not_events")
    _, events = odd.create_thread("anything")
    assert [e.code for e in events if isinstance(e, ErrorEvent)] == ["stream.error"]


def test_class_targets_get_options_and_state(chatkit_server: Server, project: str) -> None:
    carol = chat(
        chatkit_server, project, "carol", workflow="stateful", state_variables={"tier": "gold"}
    )
    _, events = carol.create_thread("hello")
    assert texts(events) == ["Hi carol: [('tier', 'gold')]"]


def test_the_example_workflow_runs(chatkit_server: Server, project: str) -> None:
    shouty = chat(chatkit_server, project, "dave", workflow="shouty")
    thread_id, events = shouty.create_thread("make some noise")
    assert texts(events) == ["DAVE, MESSAGE 1: MAKE SOME NOISE"]
    assert texts(shouty.say(thread_id, "again")) == ["DAVE, MESSAGE 2: AGAIN"]


def test_the_agents_sdk_example_runs(
    chatkit_server: Server, project: str, model_stand_in: StandIn
) -> None:
    agent = chat(chatkit_server, project, "erin", workflow="agent")
    thread_id, events = agent.create_thread("hello agent")
    assert texts(events) == ["You said: hello agent"]
    assert model_stand_in.requests[-1]["model"] == "agent-model"
    assert texts(agent.say(thread_id, "again")) == ["You said: again"]
    sent = model_stand_in.requests[-1]["messages"]
    assert [m["role"] for m in sent if m["role"] != "system"] == ["user", "assistant", "user"]
    items = list(
        chatkit_server.client(project).beta.chatkit.threads.list_items(thread_id, order="asc")
    )
    assert [i.type for i in items] == [
        "chatkit.user_message",
        "chatkit.assistant_message",
        "chatkit.user_message",
        "chatkit.assistant_message",
    ]


def test_configured_workflows(chatkit_server: Server, project: str) -> None:
    with chatkit_server.http(project) as http:
        response = http.post(
            "/v1/chatkit/sessions", json={"user": "alice", "workflow": {"id": "parrots"}}
        )
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "workflow.id"
    assert "'parrot'" in error["message"]
    parrot = chat(chatkit_server, project, "alice", workflow="parrot")
    assert texts(parrot.create_thread("polly")[1]) == ["polly"]
    # API-key callers naming no workflow get the configured default.
    caller = Chat(
        chatkit_server.url, chatkit_server.key(project), headers={"X-ChatKit-User": "svc"}
    )
    assert texts(caller.create_thread("default")[1]) == ["SVC, MESSAGE 1: DEFAULT"]


def test_session_workflow_ids_are_checked(chatkit_server: Server, project: str) -> None:
    assert new_session(chatkit_server, project, "alice", workflow="llm").workflow.id == "llm"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[workflows.x]\nkind = "magic"\n', "workflows.x.kind must be one of"),
        ("[workflows.x]\n", "workflows.x.kind is required"),
        ('[workflows.x]\nkind = "python"\n', "workflows.x.target is required"),
        ('[workflows.x]\nkind = "python"\ntarget = "no_such_module:f"\n', "cannot import"),
        ('[workflows.x]\nkind = "python"\ntarget = "json"\n', "module:attribute"),
        (
            '[workflows.x]\nkind = "openai-compatible"\nbase_url = "http://h/v1"\n',
            "workflows.x.model is required",
        ),
        (
            '[workflows.x]\nkind = "openai-compatible"\nbase_url = "http://h/v1"\n'
            'model = "m"\napi_key_env = "THREADKIT_TEST_UNSET_VARIABLE"\n',
            "THREADKIT_TEST_UNSET_VARIABLE",
        ),
        ('[workflows.echo]\ncolour = "red"\n', "unknown setting(s): colour"),
        ('default_workflow = "ghost"\n', "ghost"),
        ("surprise = 1\n", "unknown top-level setting(s): surprise"),
        ('[server]\ncors_origin = "x"\n', "server: unknown setting(s): cors_origin"),
        ("[server]\nmax_body_bytes = 10\n", "server.max_body_bytes must be at least 1024"),
        ("[workflows\n", "not valid TOML"),
    ],
)
def test_config_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "threadkit.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_registry(config)
    assert message in str(caught.value)


def test_config_defaults(tmp_path: Path) -> None:
    assert list(load_registry(None)) == ["echo"]
    config = tmp_path / "threadkit.toml"
    config.write_text('[workflows.echo]\nenabled = false\n[workflows.p]\nkind = "echo"\n')
    registry = load_registry(config)
    assert (list(registry), registry.default) == (["p"], None)


def test_serve_refuses_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "threadkit.toml"
    config.write_text('[workflows.x]\nkind = "magic"\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "threadkit",
            "serve",
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "workflows.x.kind" in result.stderr
