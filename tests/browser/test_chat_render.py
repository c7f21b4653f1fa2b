"""What the component renders: markdown made safe, every kind of item a turn can
show, the events it fires for notices and client effects, and its options."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.chat_harness import mount_chat
from tests.browser.conftest import PageLog
from tests.conftest import Server


def test_markdown_cannot_run_script_or_fetch_a_remote_image(
    page: Any, page_log: PageLog, ui_server: Server, project: str
) -> None:
    m = mount_chat(page, ui_server, project, workflow="inject")
    m.send("show me")
    m.wait_idle()
    answer = m.item("assistant_message")
    expect(answer.get_by_role("heading", name="Hello")).to_be_visible()
    # the raw HTML is shown as text, never made into elements
    expect(answer).to_contain_text("<script>window.__pwned = 'script'</script>")
    assert answer.locator("script, iframe, [onerror], [onclick], [style]").count() == 0
    # javascript: and data: links lose their target; a web link opens safely
    assert answer.locator('a[href^="javascript:" i], a[href^="data:" i]').count() == 0
    link = answer.get_by_role("link", name="a fine link")
    expect(link).to_have_attribute("href", "https://example.com/docs")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    answer.get_by_text("click me").click()
    # the remote image became its alt text; the same-origin one stays
    expect(answer).to_contain_text("remote cat")
    expect(answer.locator("img")).to_have_count(1)
    expect(answer.get_by_role("img", name="local icon")).to_be_visible()
    page.wait_for_timeout(300)  # let a stray onerror handler fire, if one got through
    assert page.evaluate("window.__pwned") is None
    # the page fixture fails the test had anything asked 203.0.113.7 for the image
    assert not any("203.0.113.7" in url for url in page_log.requests)


def test_every_kind_of_item_and_stream_event_is_shown(
    page: Any, ui_server: Server, project: str
) -> None:
    m = mount_chat(page, ui_server, project, workflow="rich")
    m.send("life")
    m.wait_idle()
    workflow = m.item("workflow")
    expect(workflow).to_contain_text("Planned the answer")
    workflow.get_by_text("Planned the answer").click()  # collapsed until opened
    expect(workflow).to_contain_text("Read the question")
    expect(workflow.locator("em")).to_have_text("something")
    expect(workflow).to_contain_text("Searched for \u201cthreadkit\u201d")
    expect(workflow.get_by_role("img", name="Done")).to_be_visible()
    expect(m.item("task")).to_contain_text("Checked the sources")
    answer = m.item("assistant_message")
    expect(answer).to_contain_text("Here is the answer to life.")
    answer.get_by_text("Sources (1)").click()
    expect(answer.get_by_role("link", name="The threadkit docs")).to_have_attribute(
        "href", "https://example.com/threadkit"
    )
    expect(m.item("generated_image").get_by_role("img", name="Generated image")).to_be_visible()
    expect(m.chat.get_by_role("status").filter(has_text="Heads up")).to_contain_text(
        "This is only a test."
    )
    assert [e["detail"] for e in m.events("chatkit.effect")] == [
        {"name": "confetti", "data": {"count": 3}}
    ]
    # end_of_turn and hidden items never show; every element names its item
    ids = m.chat.locator("[data-item-type]").evaluate_all(
        "(els) => els.map((e) => [e.dataset.itemType, e.dataset.itemId])"
    )
    assert [t for t, _ in ids] == [
        "user_message",
        "workflow",
        "task",
        "assistant_message",
        "generated_image",
    ]
    assert all(i for _, i in ids)


def test_an_unknown_option_is_warned_about_once_and_ignored(
    page: Any, ui_server: Server, project: str
) -> None:
    warnings: list[str] = []
    page.on("console", lambda msg: msg.type == "warning" and warnings.append(msg.text))
    options = "{ colour: 'blue', composer: { placeholder: 'Ask away', shape: 'round' } }"
    m = mount_chat(page, ui_server, project, options)
    m.set_options(options)
    expect(m.composer).to_have_attribute("placeholder", "Ask away")
    m.send("hi")
    m.wait_idle()
    ours = [w for w in warnings if "threadkit-chat" in w]
    assert sorted(ours) == [
        '<threadkit-chat>: unknown option "colour" is ignored',
        '<threadkit-chat>: unknown option "composer.shape" is ignored',
    ]


def test_options_set_again_keep_the_open_thread(page: Any, ui_server: Server, project: str) -> None:
    m = mount_chat(page, ui_server, project, "{ header: { title: { text: 'Support' } } }")
    expect(m.chat.get_by_role("heading", name="Support")).to_be_visible()
    m.send("remember me")
    m.wait_idle()
    m.set_options("{ theme: { colorScheme: 'dark' } }")
    expect(m.chat).to_have_attribute("data-color-scheme", "dark")
    # the header shows the thread's title now that none is set
    expect(m.chat.get_by_role("heading", name="remember me")).to_be_visible()
    expect(m.item("assistant_message")).to_have_text("remember me")
    assert len(m.events("chatkit.ready")) == 1
    assert page.evaluate("document.querySelector('threadkit-chat').options.theme") == {
        "colorScheme": "dark"
    }


def test_the_methods_drive_the_component(page: Any, ui_server: Server, project: str) -> None:
    m = mount_chat(page, ui_server, project)
    el = "document.querySelector('threadkit-chat')"
    page.evaluate(f"{el}.setComposerValue({{ text: 'drafted', reply: 'an earlier line' }})")
    expect(m.composer).to_have_value("drafted")
    expect(m.chat.locator(".tk-reply")).to_contain_text("an earlier line")
    page.evaluate(f"{el}.focusComposer()")
    expect(m.composer).to_be_focused()
    page.evaluate(f"{el}.sendUserMessage({{ text: 'from code', reply: 'quoted' }})")
    m.wait_idle()
    expect(m.item("user_message").locator(".tk-quote")).to_have_text("quoted")
    first = m.thread_id()
    page.evaluate(f"{el}.sendUserMessage({{ text: 'elsewhere', newThread: true }})")
    m.wait_idle(2)
    second = m.thread_id()
    assert second and second != first
    expect(m.chat.locator('[data-item-type="user_message"]')).to_have_count(1)
    page.evaluate(f"{el}.setThreadId({first!r})")
    expect(m.item("assistant_message")).to_have_text("from code")
    page.evaluate(f"{el}.setThreadId(null)")
    expect(m.chat.locator("[data-item-type]")).to_have_count(0)
    changes = [e["detail"]["threadId"] for e in m.events("chatkit.thread.change")]
    assert changes == [first, None, second, first, None]


def test_the_chosen_tool_and_model_go_with_the_message(
    page: Any, ui_server: Server, project: str
) -> None:
    options = """{ composer: {
      tools: [{ id: 'search', label: 'Search the web', shortLabel: 'Search', icon: 'search',
                placeholderOverride: 'Search for…' }],
      models: [{ id: 'fast', label: 'Fast' }, { id: 'deep', label: 'Deep', default: true }],
    } }"""
    m = mount_chat(page, ui_server, project, options)
    m.chat.get_by_role("combobox", name="Tool").select_option("search")
    expect(m.composer).to_have_attribute("placeholder", "Search for…")
    m.send("look it up")
    m.wait_idle()
    # a tool that is not persistent is chosen for one message only
    expect(m.chat.get_by_role("combobox", name="Tool")).to_have_value("")
    m.chat.get_by_role("combobox", name="Model").select_option("fast")
    m.send("plain")
    m.wait_idle(2)
    items = ui_server.client(project).beta.chatkit.threads.list_items(m.thread_id(), order="asc")
    sent = [i.inference_options for i in items.data if i.type == "chatkit.user_message"]
    assert [(o.tool_choice and o.tool_choice.id, o.model) for o in sent] == [  # type: ignore[union-attr]
        ("search", "deep"),
        (None, "fast"),
    ]
