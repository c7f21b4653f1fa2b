"""The component against a server built from openai-chatkit's ChatKitServer alone
(tests/browser/upstream_app.py), its requests sent through the app's own fetch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.chat_harness import mount_chat, reload
from tests.browser.conftest import SERVER_ORIGINS, axe_violations
from tests.browser.upstream_app import UpstreamServer, running_upstream

# The app adds its own header; no secret, so no Authorization header either.
OPTIONS = """{
  api: {
    getClientSecret: undefined,
    fetch: (url, init) =>
      window.fetch(url, { ...init, headers: { ...init.headers, 'X-App': 'mine' } }),
  },
  history: { enabled: true },
}"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamServer]:
    with running_upstream() as server:
        SERVER_ORIGINS.add(server.url)
        yield server


def test_an_echo_turn_and_the_history_work_against_chatkit_server(
    page: Any, upstream: UpstreamServer
) -> None:
    m = mount_chat(page, upstream, "unused", OPTIONS)  # type: ignore[arg-type]
    with page.expect_request("**/chatkit") as sent:
        m.send("one two three")
    assert sent.value.headers["x-app"] == "mine"
    assert "authorization" not in sent.value.headers
    m.wait_idle()
    expect(m.item("assistant_message")).to_have_text("one two three")
    thread_id = m.thread_id()
    assert thread_id
    assert m.events("chatkit.error") == []

    reload(m, OPTIONS)
    m.chat.get_by_role("button", name="History").click()
    history = m.chat.get_by_role("complementary", name="Chat history")
    history.get_by_role("button", name="one two three", exact=True).click()
    expect(m.item("user_message")).to_have_text("one two three")
    expect(m.item("assistant_message")).to_have_text("one two three")
    assert m.thread_id() == thread_id
    assert axe_violations(page) == []
