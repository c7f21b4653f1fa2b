"""A whole turn in the component: typed, sent with Enter, answered as a stream."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.chat_harness import mount_chat
from tests.conftest import Server


def test_an_echo_turn_streams_into_the_thread(page: Any, ui_server: Server, project: str) -> None:
    m = mount_chat(page, ui_server, project, "{ startScreen: { greeting: 'Hello there' } }")
    expect(m.chat.get_by_role("heading", name="Hello there")).to_be_visible()
    m.send("Some **bold** words")
    m.wait_idle()
    expect(m.item("user_message")).to_have_text("Some **bold** words")
    answer = m.item("assistant_message")
    expect(answer.locator("strong")).to_have_text("bold")
    expect(m.composer).to_have_value("")
    names = [e["name"] for e in m.events() if e["name"] != "chatkit.log"]
    assert names[:4] == [
        "chatkit.ready",
        "chatkit.response.start",
        "chatkit.thread.change",
        "chatkit.response.end",
    ], names
    assert m.thread_id().startswith("cthr_")
