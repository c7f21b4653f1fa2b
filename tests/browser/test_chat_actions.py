"""What a user does to a thread besides typing: client tools answered by the page,
feedback and retry on an answer, attachments uploaded with previews."""

from __future__ import annotations

import base64
from typing import Any

from playwright.sync_api import expect

from tests.browser.chat_harness import mount_chat
from tests.conftest import Server, with_store

#: a 1x1 PNG (threadkit checks an image's first bytes against its declared type)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_a_client_tool_call_is_answered_by_on_client_tool(
    page: Any, ui_server: Server, project: str
) -> None:
    options = """{
      onClientTool: async ({ name, params }) => {
        window.__toolCalls = [...(window.__toolCalls || []), { name, params }];
        return { color: `teal for ${params.for}` };
      },
    }"""
    m = mount_chat(page, ui_server, project, options, workflow="tool")
    m.send("the sea")
    m.wait_idle(2)  # the user's turn, then the one after the tool's output
    expect(m.item("assistant_message")).to_have_text("the tool said {'color': 'teal for the sea'}")
    expect(m.item("client_tool_call")).to_contain_text("Used get_color")
    assert page.evaluate("window.__toolCalls") == [
        {"name": "get_color", "params": {"for": "the sea"}}
    ]


def test_feedback_on_an_answer_is_stored(page: Any, ui_server: Server, project: str) -> None:
    m = mount_chat(page, ui_server, project, "{ threadItemActions: { feedback: true } }")
    m.send("rate me")
    m.wait_idle()
    answer = m.item("assistant_message")
    item_id = answer.get_attribute("data-item-id")
    good = answer.get_by_role("button", name="Good response")
    bad = answer.get_by_role("button", name="Bad response")
    good.click()
    expect(good).to_have_attribute("aria-pressed", "true")
    assert stored_feedback(ui_server, project) == [(item_id, "positive")]
    bad.click()
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(good).to_have_attribute("aria-pressed", "false")
    assert stored_feedback(ui_server, project)[-1] == (item_id, "negative")


def stored_feedback(server: Server, project: str) -> list[tuple[str, str]]:
    rows = with_store(
        server.db, lambda s: s.list_feedback(project, user="alice", after=0, limit=100)
    )
    return [(r.item_id, r.kind) for r in rows]


def test_retry_on_an_answer_answers_again(page: Any, ui_server: Server, project: str) -> None:
    m = mount_chat(page, ui_server, project, "{ threadItemActions: { retry: true } }")
    m.send("once more")
    m.wait_idle()
    first = m.item("assistant_message").get_attribute("data-item-id")
    m.item("assistant_message").get_by_role("button", name="Retry").click()
    m.wait_idle(2)
    answers = m.chat.locator('[data-item-type="assistant_message"]')
    expect(answers).to_have_count(1)
    expect(answers).not_to_have_attribute("data-item-id", first)
    expect(answers).to_contain_text("once more")
    items = ui_server.client(project).beta.chatkit.threads.list_items(m.thread_id(), order="asc")
    assert [i.type for i in items.data] == ["chatkit.user_message", "chatkit.assistant_message"]
    assert items.data[1].id != first


def test_attachments_upload_with_progress_and_preview(
    page: Any, ui_server: Server, project: str
) -> None:
    m = mount_chat(
        page,
        ui_server,
        project,
        "{ composer: { attachments: { enabled: true, maxCount: 3 } } }",
        configuration={"file_upload": {"enabled": True, "max_file_size": 5, "max_files": 10}},
    )
    # every progress bar that shows up while the files go out
    page.evaluate("""() => {
      const root = document.querySelector('threadkit-chat').shadowRoot;
      window.__bars = [];
      new MutationObserver(() => {
        for (const bar of root.querySelectorAll('progress')) {
          const label = bar.getAttribute('aria-label');
          if (!window.__bars.includes(label)) window.__bars.push(label);
        }
      }).observe(root, { subtree: true, childList: true });
    }""")
    files = m.chat.locator('input[type="file"]')
    files.set_input_files(
        [
            {"name": "dot.png", "mimeType": "image/png", "buffer": PNG},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"some notes\n"},
        ]
    )
    pending = m.chat.get_by_role("list", name="Attachments")
    expect(pending.locator(".tk-chip-done")).to_have_count(2)
    assert sorted(page.evaluate("window.__bars")) == ["Uploading dot.png", "Uploading notes.txt"]
    preview = pending.get_by_role("img", name="Preview of dot.png")
    assert preview.get_attribute("src").startswith("blob:")
    # one taken off again: deleted on the server too
    notes_id = pending.locator(".tk-chip", has_text="notes.txt").get_attribute("data-attachment-id")
    pending.get_by_role("button", name="Remove notes.txt").click()
    expect(pending.locator(".tk-chip")).to_have_count(1)
    m.send("see the picture")
    m.wait_idle()
    sent = m.item("user_message")
    image = sent.get_by_role("img", name="dot.png")
    expect(image).to_be_visible()
    assert image.evaluate("(img) => img.decode().then(() => img.naturalWidth)") == 1
    assert image.get_attribute("src").startswith(ui_server.url + "/chatkit/attachments/")
    expect(pending).to_be_hidden()
    items = ui_server.client(project).beta.chatkit.threads.list_items(m.thread_id(), order="asc")
    assert [a.name for a in items.data[0].attachments] == ["dot.png"]  # type: ignore[union-attr]
    gone = with_store(ui_server.db, lambda s: s.get_attachment(project, notes_id))
    assert gone is None


def test_attachments_past_the_limits_are_refused_in_the_browser(
    page: Any, ui_server: Server, project: str
) -> None:
    m = mount_chat(
        page,
        ui_server,
        project,
        "{ composer: { attachments: { enabled: true, maxCount: 1, maxSize: 4,"
        " accept: { 'image/*': ['.png'] } } } }",
        configuration={"file_upload": {"enabled": True, "max_file_size": 5, "max_files": 10}},
    )
    files = m.chat.locator('input[type="file"]')
    assert files.get_attribute("accept") == "image/*,.png"
    files.set_input_files([{"name": "big.png", "mimeType": "image/png", "buffer": PNG}])
    expect(m.chat.get_by_role("status")).to_contain_text("big.png is larger than 4 bytes.")
    expect(m.chat.locator(".tk-chip")).to_have_count(0)


def test_structured_input_is_answered_in_the_thread(
    page: Any, ui_server: Server, project: str
) -> None:
    m = mount_chat(page, ui_server, project, workflow="survey")
    m.send("ask me")
    m.wait_idle()
    form = m.item("structured_input")
    form.get_by_role("radio", name="blue").check()
    form.get_by_role("textbox", name="Your name?").fill("Bo")
    form.get_by_role("button", name="Submit").click()
    m.wait_idle(2)
    expect(m.item("assistant_message")).to_have_text("colour=blue name=Bo")
    # the item was replaced by its answered form
    expect(m.item("structured_input")).to_contain_text("Which colour?blue")
    expect(m.item("structured_input").get_by_role("button")).to_have_count(0)
