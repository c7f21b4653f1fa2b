"""Talking to ``POST /chatkit`` over real HTTP: a small server-sent-events parser (per
the HTML standard's rules), typed protocol events, and session helpers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from chatkit.types import (
    AssistantMessageItem,
    ThreadItemDoneEvent,
    ThreadStreamEvent,
    UserMessageItem,
)
from pydantic import TypeAdapter

from tests.conftest import TLS

EVENT: TypeAdapter[Any] = TypeAdapter(ThreadStreamEvent)
REPO = Path(__file__).resolve().parent.parent


def sse_messages(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(event, data)`` of each dispatched server-sent event."""
    data: list[str] = []
    event = ""
    for line in lines:
        if line == "":
            if data:
                yield event or "message", "\n".join(data)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    # An event not closed by a blank line is dropped, as the standard says.


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {},
    }


def texts(events: list[Any]) -> list[str]:
    """Texts of the assistant messages completed in a stream."""
    return [
        "".join(part.text for part in e.item.content)
        for e in events
        if isinstance(e, ThreadItemDoneEvent) and isinstance(e.item, AssistantMessageItem)
    ]


def done_items(events: list[Any], kind: type) -> list[Any]:
    return [
        e.item for e in events if isinstance(e, ThreadItemDoneEvent) and isinstance(e.item, kind)
    ]


@dataclass
class Chat:
    """A ChatKit client of one server, authenticated by a session secret (or by an API
    key and a user header)."""

    url: str
    secret: str
    headers: dict[str, str] | None = None

    def http(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        headers.update(self.headers or {})
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=TLS)

    def post(self, kind: str, params: dict[str, Any], **extra: Any) -> httpx.Response:
        """A request whose answer is read whole (JSON, or an error before a stream)."""
        with self.http() as client:
            return client.post("/chatkit", json={"type": kind, "params": params, **extra})

    def call(self, kind: str, params: dict[str, Any]) -> Any:
        response = self.post(kind, params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    def stream(self, kind: str, params: dict[str, Any]) -> list[Any]:
        """The typed events of a streamed answer (asserting it is one)."""
        with (
            self.http() as client,
            client.stream("POST", "/chatkit", json={"type": kind, "params": params}) as response,
        ):
            if response.status_code != 200:
                response.read()
                raise AssertionError(f"{response.status_code}: {response.text}")
            assert response.headers["content-type"].startswith("text/event-stream")
            return [EVENT.validate_json(data) for _, data in sse_messages(response.iter_lines())]

    def create_thread(
        self, text: str, attachments: list[str] | None = None
    ) -> tuple[str, list[Any]]:
        events = self.stream("threads.create", {"input": user_input(text, attachments)})
        assert events[0].type == "thread.created"
        return events[0].thread.id, events

    def say(self, thread_id: str, text: str, attachments: list[str] | None = None) -> list[Any]:
        return self.stream(
            "threads.add_user_message",
            {"thread_id": thread_id, "input": user_input(text, attachments)},
        )


def new_session(
    server: Any,
    project: str,
    user: str,
    workflow: str = "echo",
    state_variables: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """A session made with the official SDK."""
    spec: dict[str, Any] = {"id": workflow}
    if state_variables is not None:
        spec["state_variables"] = state_variables
    return server.client(project).beta.chatkit.sessions.create(user=user, workflow=spec, **options)


def chat(
    server: Any,
    project: str,
    user: str,
    workflow: str = "echo",
    state_variables: dict[str, Any] | None = None,
    **options: Any,
) -> Chat:
    """A client of a new session; the rate limit is raised (unless given) so that tests
    can make more than the default 10 requests a minute."""
    options.setdefault("rate_limits", {"max_requests_per_1_minute": 1000})
    session = new_session(server, project, user, workflow, state_variables, **options)
    return Chat(server.url, session.client_secret)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The OpenAI error envelope's ``error`` object (asserting the shape)."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = orjson.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    """Poll ``check()`` until it returns something truthy (work the server finishes
    after answering, like saving a cancelled turn)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


__all__ = [
    "EVENT",
    "REPO",
    "Chat",
    "UserMessageItem",
    "chat",
    "done_items",
    "error_of",
    "new_session",
    "sse_messages",
    "texts",
    "user_input",
    "wait_for",
]


# --- the configured server (fixture ``chatkit_server`` in conftest) ----------------------

CORS_ORIGIN = "http://app.example"
MODEL_KEY = "sk-stand-in-key"
#: attachment folder of each configured server, by its URL
FILES_DIRS: dict[str, Path] = {}

CONFIG = """
default_workflow = "shouty"

[workflows.parrot]
kind = "echo"

[workflows.llm]
kind = "openai-compatible"
base_url = "{base_url}"
model = "stand-in-model"
api_key_env = "STAND_IN_KEY"
instructions = "You help {{{{user}}}} on the {{{{plan}}}} plan."
temperature = 0.5

[workflows.slow]
kind = "python"
target = "tests.sample_workflows:slow"
python_path = [{repo}]

[workflows.steps]
kind = "python"
target = "tests.sample_workflows:steps"
python_path = [{repo}]

[workflows.broken]
kind = "python"
target = "tests.sample_workflows:broken"
python_path = [{repo}]

[workflows.not_events]
kind = "python"
target = "tests.sample_workflows:not_events"
python_path = [{repo}]

[workflows.stateful]
kind = "python"
target = "tests.sample_workflows:Stateful"
python_path = [{repo}]
options = {{ greeting = "Hi" }}

[workflows.shouty]
kind = "python"
target = "shouty:respond"
python_path = [{example}]

[workflows.agent]
kind = "python"
target = "agent:respond"
python_path = [{example}]
"""


def start_chatkit_server(backend: str, url: str, folder: Path, model_url: str, *extra: str) -> Any:
    """A server with every test workflow, an attachments folder and CORS for
    ``CORS_ORIGIN``; ``model_url`` is the stand-in model server; ``extra``: more
    ``serve`` options."""
    from tests.conftest import start_server

    config = folder / "threadkit.toml"
    config.write_text(
        CONFIG.format(
            base_url=model_url,
            repo=json.dumps(str(REPO)),
            example=json.dumps(str(REPO / "examples" / "python_workflow")),
        )
    )
    files = folder / "files"
    server = start_server(
        url,
        backend,
        folder,
        "--config",
        str(config),
        "--cors-origin",
        CORS_ORIGIN,
        "--attachments-dir",
        str(files),
        "--metrics",  # off by default; the metrics tests read this server's
        "on",
        *extra,
        env={"STAND_IN_KEY": MODEL_KEY, "MODEL_BASE_URL": model_url, "MODEL_NAME": "agent-model"},
    )
    FILES_DIRS[server.url] = files
    return server
