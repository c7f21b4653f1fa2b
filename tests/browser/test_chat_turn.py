"""Whole turns in the component: typed, sent with Enter, answered as a stream; stopped
half way, failed and retried, with a secret that had expired."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.chat_harness import Secrets, mount_chat, reload
from tests.browser.conftest import PageLog
from tests.conftest import Server

pytestmark = pytest.mark.both_backends


def test_an_echo_turn_streams_into_the_thread(page: Any, ui_server: Server, project: str) -> None:
    m = mount_chat(page, ui_server, project, "{ startScreen: { greeting: 'Hello there' } }")
    expect(m.chat.get_by_role("heading", name="Hello there")).to_be_visible()
    m.composer.fill("Some **bold**")
    m.composer.press("Shift+Enter")
    m.composer.press_sequentially("words")
    expect(m.composer).to_have_value("Some **bold**\nwords")
    m.composer.press("Enter")
    m.wait_idle()
    expect(m.item("user_message")).to_have_text("Some **bold**\nwords")
    answer = m.item("assistant_message")
    expect(answer.locator("strong")).to_have_text("bold")
    expect(m.composer).to_have_value("")
    expect(m.chat.get_by_role("heading", name="Hello there")).to_be_hidden()
    names = [e["name"] for e in m.events() if e["name"] != "chatkit.log"]
    assert names[:4] == [
        "chatkit.ready",
        "chatkit.response.start",
        "chatkit.thread.change",
        "chatkit.response.end",
    ], names
    assert m.thread_id().startswith("cthr_")
    # the next message goes to the same thread
    m.send("again")
    m.wait_idle(2)
    expect(m.chat.locator('[data-item-type="assistant_message"]')).to_have_count(2)
    assert {e["detail"]["threadId"] for e in m.events("chatkit.thread.change")} == {m.thread_id()}


def test_stop_ends_the_stream_and_the_partial_answer_stays(
    page: Any, ui_server: Server, project: str
) -> None:
    m = mount_chat(page, ui_server, project, workflow="drip")
    m.send("talk to me")
    answer = m.item("assistant_message")
    expect(answer).to_contain_text("word 3")
    stop = m.chat.get_by_role("button", name="Stop")
    expect(stop).to_be_enabled()
    m.composer.press("Escape")
    m.wait_idle()
    expect(m.chat.get_by_role("button", name="Send")).to_be_visible()
    expect(stop).to_be_hidden()
    shown = answer.inner_text()
    assert shown.startswith("word 1 word 2 word 3")
    assert "word 600" not in shown
    # threadkit saved what was streamed: it is there after a reload
    thread_id = m.thread_id()
    reload(m, f"{{ initialThread: '{thread_id}' }}")
    expect(m.item("assistant_message")).to_contain_text("word 3")
    assert "word 600" not in m.item("assistant_message").inner_text()


def test_the_stop_button_stops_too(page: Any, ui_server: Server, project: str) -> None:
    m = mount_chat(page, ui_server, project, workflow="drip")
    m.send("go")
    expect(m.item("assistant_message")).to_contain_text("word 2")
    m.chat.get_by_role("button", name="Stop").click()
    m.wait_idle()
    assert "word 600" not in m.item("assistant_message").inner_text()
    assert m.events("chatkit.error") == []


def test_an_error_event_offers_a_retry_that_answers(
    page: Any, ui_server: Server, project: str
) -> None:
    m = mount_chat(page, ui_server, project, workflow="flaky")
    m.send("please")
    m.wait_idle()
    alert = m.chat.get_by_role("alert")
    expect(alert).to_contain_text("The model is busy right now.")
    assert [e["detail"]["error"] for e in m.events("chatkit.error")] == [
        "The model is busy right now."
    ]
    alert.get_by_role("button", name="Retry").click()
    m.wait_idle(2)
    expect(m.item("assistant_message")).to_have_text("recovered: please")
    expect(alert).to_be_hidden()
    expect(m.chat.locator('[data-item-type="user_message"]')).to_have_count(1)


def test_an_expired_secret_is_refreshed_and_the_message_goes_through(
    page: Any, page_log: PageLog, ui_server: Server, project: str
) -> None:
    # chromium logs every 401 response as a console error; this one is the point
    page_log.allow(r"status of 401 \(Unauthorized\) \(http://127\.0\.0\.1:\d+/chatkit\)")
    secrets = Secrets(ui_server, project, "alice", "echo")
    # the secret of a session that ended: the server refuses it with a 401
    stale = secrets.new_session()
    ui_server.client(project).beta.chatkit.sessions.cancel(stale.id)
    secrets.queue.append(stale.client_secret)
    m = mount_chat(page, ui_server, project, secrets=secrets)
    m.send("still there?")
    m.wait_idle()
    expect(m.item("assistant_message")).to_have_text("still there?")
    # first the stale secret, then a new one asked for with the refused one
    assert secrets.calls == [None, stale.client_secret]
    assert m.events("chatkit.error") == []
