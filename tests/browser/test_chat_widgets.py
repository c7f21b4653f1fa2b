"""Widget items in the component: rendered by widgets.js, updated as they stream, and
their actions sent the way each asks (to the page, or to the server streamed or not)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.chat_harness import mount_chat
from tests.browser.conftest import REPO, axe_violations
from tests.conftest import Server

pytestmark = pytest.mark.skipif(
    not (REPO / "threadkit" / "web" / "ui" / "widgets.js").exists(),
    reason="threadkit/web/ui/widgets.js (the widget renderer) is not in this tree yet",
)


def test_widget_actions_go_to_the_page_or_the_server_as_each_asks(
    page: Any, ui_server: Server, project: str
) -> None:
    options = """{ widgets: { onAction: async (action, item) => {
      const seen = { action, id: item.id, type: item.widget.type };
      window.__actions = [...(window.__actions || []), seen];
    } } }"""
    m = mount_chat(page, ui_server, project, options, workflow="panel")
    m.send("a panel please")
    m.wait_idle()
    widget = m.item("widget")
    widget_id = widget.get_attribute("data-item-id")
    expect(widget).to_contain_text("Pick a way")

    widget.get_by_role("button", name="Client side").click()
    page.wait_for_function("() => (window.__actions || []).length === 1")
    assert page.evaluate("window.__actions") == [
        {"action": {"type": "panel.local", "payload": {"k": 1}}, "id": widget_id, "type": "Card"}
    ]

    widget.get_by_role("button", name="Streamed").click()
    m.wait_idle(2)
    expect(m.item("assistant_message")).to_have_text("streamed panel.stream {'k': 3} from widget")

    widget.get_by_role("button", name="Quick").click()
    expect(widget).to_have_text("synced panel.sync {'k': 2}")
    assert len(m.events("chatkit.response.start")) == 2  # the sync action streamed nothing
    assert m.events("chatkit.error") == []


def test_the_widgets_workflow_streams_its_widgets_and_answers_an_action(
    page: Any, ui_server: Server, project: str
) -> None:
    m = mount_chat(page, ui_server, project, workflow="widgets")
    m.send("show me widgets")
    m.wait_idle()
    widgets = m.chat.locator('[data-item-type="widget"]')
    expect(widgets).to_have_count(3)
    card = widgets.first
    expect(card).to_contain_text("Streaming one Text in deltas.")  # value deltas applied
    expect(card.locator("strong")).to_have_text("markdown")
    expect(card.get_by_role("img", name="threadkit logo")).to_be_visible()
    assert axe_violations(page) == []
    widgets.nth(1).get_by_text("Item 2").click()
    m.wait_idle(2)
    expect(m.item("assistant_message")).to_have_text('widgets.echo {"n": 2, "via": "item"}')
