"""``<threadkit-chat>`` served by an app of one's own (examples/own_server): a plain
``ChatKitServer`` behind a Starlette route, the component's files mounted from
``threadkit.web``, the app's own authentication added by a custom ``fetch``."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import (
    READY_COUNTER,
    SERVER_ORIGINS,
    PageLog,
    axe_violations,
    needs_component,
    wait_until_ready,
)
from tests.test_own_server_example import example  # noqa: F401 (the fixture)


@needs_component
def test_the_example_page_chats_with_its_own_server(
    page: Any,
    page_log: PageLog,
    example: str,  # noqa: F811
) -> None:
    SERVER_ORIGINS.add(example)
    page.add_init_script(READY_COUNTER)
    page.goto(f"{example}/?user=dora")
    wait_until_ready(page)
    composer = page.locator("threadkit-chat").get_by_role("textbox", name="Message")
    composer.fill("one two three")
    with page.expect_request("**/chatkit") as sent:
        composer.press("Enter")
    assert sent.value.headers["x-user"] == "dora"  # the app's own fetch
    assert "authorization" not in sent.value.headers
    answer = page.locator('threadkit-chat [data-item-type="assistant_message"]').last
    answer.get_by_text("eerht owt eno").wait_for()
    assert axe_violations(page) == []
    assert page_log.outside_requests() == []
