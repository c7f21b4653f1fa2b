"""Threads over time: the history panel (list, open, rename, delete), a thread found
again after a reload, and a long thread opened on its newest page."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from playwright.sync_api import expect

from tests.browser.chat_harness import mount_chat, reload
from tests.conftest import Server
from tests.helpers import assistant_message, thread

pytestmark = pytest.mark.both_backends

HISTORY = "{ history: { enabled: true, showRename: true, showDelete: true } }"


def test_a_thread_is_found_again_in_the_history_after_a_reload(
    page: Any, ui_server: Server, project: str
) -> None:
    m = mount_chat(page, ui_server, project, HISTORY)
    m.send("first chat")
    m.wait_idle()
    thread_id = m.thread_id()
    reload(m, HISTORY)
    expect(m.chat.get_by_role("heading", name="New chat")).to_be_visible()
    m.chat.get_by_role("button", name="History").click()
    history = m.chat.get_by_role("complementary", name="Chat history")
    history.get_by_role("button", name="first chat", exact=True).click()
    expect(m.item("assistant_message")).to_have_text("first chat")
    expect(history).to_be_hidden()
    assert m.thread_id() == thread_id
    loads = [e["detail"] for e in m.events() if e["name"].startswith("chatkit.thread.load")]
    assert loads == [{"threadId": thread_id}, {"threadId": thread_id}]
    m.send("and more")
    m.wait_idle()
    expect(m.chat.locator('[data-item-type="assistant_message"]')).to_have_count(2)


def test_threads_are_renamed_and_deleted_from_the_history(
    page: Any, ui_server: Server, project: str
) -> None:
    m = mount_chat(page, ui_server, project, HISTORY)
    m.send("keep this one")
    m.wait_idle()
    kept = m.thread_id()
    m.chat.get_by_role("button", name="New chat").click()
    m.send("throw this away")
    m.wait_idle(2)
    dropped = m.thread_id()
    m.chat.get_by_role("button", name="History").click()
    history = m.chat.get_by_role("complementary", name="Chat history")
    expect(history.locator(".tk-history-entry")).to_have_count(2)

    history.get_by_role("button", name="Rename keep this one").click()
    title = history.get_by_role("textbox", name="Title")
    title.fill("Kept, renamed")
    title.press("Enter")
    expect(history.get_by_role("button", name="Kept, renamed", exact=True)).to_be_visible()
    api = ui_server.client(project).beta.chatkit.threads
    assert api.retrieve(kept).title == "Kept, renamed"

    history.get_by_role("button", name="Delete throw this away").click()
    history.get_by_role("group", name="Delete throw this away?").get_by_role(
        "button", name="Delete"
    ).click()
    expect(history.locator(".tk-history-entry")).to_have_count(1)
    # the open thread was the one deleted: the component went back to a new chat
    expect(m.chat.get_by_role("heading", name="New chat")).to_be_visible()
    assert m.thread_id() is None
    with pytest.raises(openai.NotFoundError):
        api.retrieve(dropped)
    assert api.retrieve(kept).title == "Kept, renamed"


def test_the_history_lists_threads_a_page_at_a_time(
    page: Any, ui_server: Server, project: str
) -> None:
    ui_server.seed(
        project,
        [thread("alice", 1_712_345_600 + n, title=f"Thread {n:02}") for n in range(25)],
    )
    m = mount_chat(page, ui_server, project, HISTORY)
    m.chat.get_by_role("button", name="History").click()
    history = m.chat.get_by_role("complementary", name="Chat history")
    entries = history.locator(".tk-history-entry")
    expect(entries).to_have_count(20)
    expect(entries.first).to_have_text("Thread 24")
    history.get_by_role("button", name="Load more").click()
    expect(entries).to_have_count(25)
    expect(entries.last).to_have_text("Thread 00")
    expect(history.get_by_role("button", name="Load more")).to_be_hidden()


def test_a_long_thread_opens_on_its_newest_page_and_pages_back_on_scrolling_up(
    page: Any, ui_server: Server, project: str
) -> None:
    t = thread("alice", title="Long")
    items = [
        assistant_message(t["id"], text=f"item {n}", created_at=1_712_345_601 + n)
        for n in range(2000)
    ]
    ui_server.seed(project, [t, *items])
    m = mount_chat(page, ui_server, project, f"{{ initialThread: '{t['id']}' }}")
    m.wait_for_event("chatkit.thread.load.end")
    rendered = m.chat.locator('[data-item-type="assistant_message"] .tk-md')
    expect(rendered.last).to_have_text("item 1999")
    expect(rendered.last).to_be_in_viewport()
    first_count = rendered.count()
    assert 20 <= first_count <= 60, first_count  # a page or a few, never the thread
    pages = [e for e in m.events("chatkit.log") if e["detail"]["name"] == "items.page"]
    assert all(p["detail"]["data"]["count"] == 20 for p in pages)

    oldest_shown = rendered.first.inner_text()
    scroller = m.chat.locator(".tk-scroller")
    scroller.evaluate("(s) => { s.scrollTop = 0; }")
    expect(rendered).to_have_count(first_count + 20)
    # what was at the top is still where the reader left it, the new page above it
    top = m.chat.get_by_text(oldest_shown, exact=True)
    expect(top).to_be_in_viewport()
    assert scroller.evaluate("(s) => s.scrollTop") > 0
    for _ in range(3):
        before = rendered.count()
        scroller.evaluate("(s) => { s.scrollTop = 0; }")
        expect(rendered).to_have_count(before + 20)
    assert rendered.count() < 2000
    numbers = [int(text.split()[1]) for text in rendered.all_inner_texts()]
    assert numbers == list(range(2000 - len(numbers), 2000))


def test_a_locked_thread_shows_why_and_takes_no_input(
    page: Any, ui_server: Server, project: str
) -> None:
    t = thread(
        "alice", title="Closed case", status={"type": "locked", "reason": "Support ended it."}
    )
    ui_server.seed(project, [t, assistant_message(t["id"], text="goodbye")])
    m = mount_chat(page, ui_server, project, f"{{ initialThread: '{t['id']}' }}")
    expect(m.item("assistant_message").locator(".tk-md")).to_have_text("goodbye")
    expect(m.chat.get_by_text("Support ended it.")).to_be_visible()
    expect(m.composer).to_be_disabled()
    expect(m.chat.get_by_role("button", name="Send")).to_be_disabled()
    m.chat.get_by_role("button", name="New chat").click()
    expect(m.composer).to_be_enabled()
