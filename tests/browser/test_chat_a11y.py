"""The component for everyone: axe-core finds nothing serious in either theme, and a
phone-sized screen shows the whole chat without sideways scrolling."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.chat_harness import mount_chat
from tests.browser.conftest import axe_violations
from tests.conftest import Server

EVERYTHING = """{
  theme: { colorScheme: '%s' },
  history: { enabled: true, showRename: true, showDelete: true },
  threadItemActions: { feedback: true, retry: true },
  composer: { attachments: { enabled: true } },
  startScreen: { greeting: 'Ask me', prompts: [{ label: 'Say hello', prompt: 'hello' }] },
  disclaimer: { text: 'Answers may be *wrong*.' },
}"""


def summary(violations: list[dict[str, Any]]) -> list[str]:
    return [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in violations]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation(
    page: Any, ui_server: Server, project: str, scheme: str
) -> None:
    m = mount_chat(page, ui_server, project, EVERYTHING % scheme, workflow="rich")
    expect(m.chat).to_have_attribute("data-color-scheme", scheme)
    assert summary(axe_violations(page)) == []  # the start screen
    m.chat.get_by_role("button", name="Say hello").click()
    m.wait_idle()
    m.item("workflow").get_by_text("Planned the answer").click()
    m.composer.fill("a draft")
    assert summary(axe_violations(page)) == []  # a thread with every kind of item
    m.chat.get_by_role("button", name="History").click()
    expect(m.chat.locator(".tk-history-entry")).to_have_count(1)
    assert summary(axe_violations(page)) == []  # the history panel


def test_a_phone_screen_shows_the_chat_without_sideways_scrolling(
    browser: Any, ui_server: Server, project: str, page_log: Any
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True)
    page = context.new_page()
    try:
        m = mount_chat(page, ui_server, project, EVERYTHING % "light", workflow="rich")
        m.send("a question long enough to wrap over several lines on a narrow phone screen")
        m.wait_idle()
        for element in ("composer", "send"):
            target = (
                m.composer if element == "composer" else m.chat.get_by_role("button", name="Send")
            )
            box = target.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375, (element, box)
        widths = page.evaluate(
            """() => {
              const root = document.querySelector('threadkit-chat').shadowRoot;
              const s = root.querySelector('.tk-scroller');
              return [document.documentElement.scrollWidth, s.scrollWidth, s.clientWidth];
            }"""
        )
        assert widths[0] <= 375 and widths[1] <= widths[2], widths
        m.chat.get_by_role("button", name="History").click()
        panel = m.chat.get_by_role("complementary", name="Chat history").bounding_box()
        assert panel and panel["width"] <= 375
    finally:
        context.close()
