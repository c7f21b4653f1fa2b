"""The page at ``/`` in chromium: signing in (one-time token, API key), the workflow
picker, the sessions it creates, themes, a phone-sized screen, accessibility; and,
once the component is there, the newcomer's path from the printed URL to a chat."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    BROWSER_WORKFLOWS,
    COMPONENT,
    READY_COUNTER,
    PageLog,
    axe_violations,
    needs_component,
    open_chat,
    start_ui_server,
    ui_key,
    ui_token,
    wait_until_ready,
)
from tests.conftest import Server, stop_server

#: until the component is in the tree, loading it is a 404 the tests expect
NO_COMPONENT = r"/ui/threadkit-chat\.js"
ALREADY_USED = "That sign-in link was already used"


@pytest.fixture
def quiet_without_component(page_log: PageLog) -> PageLog:
    if not COMPONENT.exists():
        page_log.allow(NO_COMPONENT)
    return page_log


def sessions_of(page_log: PageLog) -> list[str]:
    return [u for u in page_log.requests if u.endswith("/v1/chatkit/sessions")]


def sign_in_with_key(page: Any, key: str) -> None:
    page.get_by_label("Project API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_the_page_loads_without_errors_or_outside_requests(
    page: Any, page_log: PageLog, ui_server: Server
) -> None:
    response = page.goto(ui_server.url + "/")
    assert response.status == 200
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.title() == "threadkit chat"
    assert page_log.requests[0] == ui_server.url + "/"
    # without a token: the sign-in form, nothing else
    assert page.get_by_role("heading", name="Sign in").is_visible()
    assert page.get_by_label("Project API key").is_visible()
    assert not page.get_by_label("Workflow").is_visible()
    assert axe_violations(page) == []


def test_the_token_signs_in_and_leaves_the_url(
    page: Any, quiet_without_component: PageLog, ui_server: Server, project: str
) -> None:
    token = ui_token(ui_server, project)
    with page.expect_response("**/ui/api/login") as login:
        page.goto(f"{ui_server.url}/?token={token}&user=bea")
    assert login.value.status == 200
    assert login.value.request.post_data_json == {"token": token}
    page.get_by_label("Workflow").wait_for()
    # the token is gone from the address bar and the history entry
    assert page.url == f"{ui_server.url}/?user=bea"
    assert token not in page.evaluate("window.location.href + document.referrer")
    assert page.get_by_label("User name").input_value() == "bea"
    names = (
        page.get_by_label("Workflow")
        .locator("option")
        .evaluate_all("options => options.map(o => o.value)")
    )
    assert names == ["echo", *BROWSER_WORKFLOWS]
    assert page.get_by_label("Workflow").input_value() == "echo"
    # secrets in memory only
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    assert page.context.cookies() == []
    assert not page.get_by_label("Project API key").is_visible()


def test_a_used_or_unknown_token_asks_for_a_key(
    page: Any, quiet_without_component: PageLog, ui_server: Server, project: str
) -> None:
    token = ui_token(ui_server, project)
    page.goto(f"{ui_server.url}/?token={token}")
    page.get_by_label("Workflow").wait_for()
    page.goto(f"{ui_server.url}/?token={token}")  # the same link again
    page.get_by_text(ALREADY_USED).wait_for()
    assert page.url == f"{ui_server.url}/"
    assert page.get_by_label("Project API key").is_visible()
    quiet_without_component.allow(r"/ui/api/login.*401|status of 401")
    page.goto(f"{ui_server.url}/?token=tk-made-up")
    page.get_by_text(ALREADY_USED).wait_for()


def test_signing_in_with_a_key(
    page: Any, quiet_without_component: PageLog, ui_server: Server, project: str
) -> None:
    quiet_without_component.allow(r"/ui/api/workflows.*401|status of 401")
    page.goto(ui_server.url + "/")
    sign_in_with_key(page, "tk-not-a-key")
    page.get_by_text("That API key is not valid here.").wait_for()
    assert page.get_by_label("Project API key").is_visible()
    sign_in_with_key(page, ui_key(ui_server, project))
    page.get_by_label("Workflow").wait_for()
    assert page.get_by_label("Project API key").is_hidden()
    page.get_by_role("button", name="Sign out").click()
    assert page.get_by_label("Project API key").is_visible()
    assert page.get_by_label("Project API key").input_value() == ""


def test_the_page_creates_sessions_for_the_chosen_user_and_workflow(
    page: Any, quiet_without_component: PageLog, ui_server: Server, project: str
) -> None:
    key = ui_key(ui_server, project)
    page.goto(ui_server.url + "/")
    with page.expect_response("**/v1/chatkit/sessions") as created:
        sign_in_with_key(page, key)
    request = created.value.request
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {key}"
    assert request.headers["openai-beta"] == "chatkit_beta=v1"
    body = request.post_data_json
    assert body["user"] == "guest"
    assert body["workflow"] == {"id": "echo"}
    assert body["chatkit_configuration"] == {"file_upload": {"enabled": True}}
    session = created.value.json()
    assert created.value.status == 200
    assert session["user"] == "guest" and session["workflow"]["id"] == "echo"
    assert session["client_secret"].startswith("ek_")

    page.get_by_label("User name").fill("carol")
    page.get_by_label("Workflow").select_option("slow")
    with page.expect_response("**/v1/chatkit/sessions") as again:
        page.get_by_role("button", name="Start new chat").click()
    assert again.value.request.post_data_json["user"] == "carol"
    assert again.value.json()["workflow"]["id"] == "slow"
    assert len(sessions_of(quiet_without_component)) == 2
    # the sessions are the project's: the SDK cancels one with the project's key
    ui_server.client(project).beta.chatkit.sessions.cancel(again.value.json()["id"])
    if not COMPONENT.exists():
        page.get_by_text("The chat component could not be loaded").wait_for()


def test_the_theme_toggle_and_both_themes_pass_axe(
    page: Any, quiet_without_component: PageLog, ui_server: Server, project: str
) -> None:
    # no transitions: the switch's computed style is its end state at once
    page.emulate_media(color_scheme="light", reduced_motion="reduce")
    page.goto(f"{ui_server.url}/?token={ui_token(ui_server, project)}")
    page.get_by_label("Workflow").wait_for()
    # a toggle: its name stays, aria-pressed and the switch beside it say the state
    toggle = page.get_by_role("button", name="Dark theme", exact=True)
    knob = "getComputedStyle(document.querySelector('#theme .switch-track'), '::after').transform"
    assert toggle.get_attribute("aria-pressed") == "false"
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    knob_off = page.evaluate(knob)
    assert axe_violations(page) == []
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    assert toggle.inner_text().strip() == "Dark theme"
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != light
    assert page.evaluate(knob) != knob_off
    assert axe_violations(page) == []
    # once used, the toggle's choice wins over the system's
    page.emulate_media(color_scheme="light")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "false"
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.goto(ui_server.url + "/")
    assert axe_violations(page) == []  # the sign-in form too


def test_the_page_follows_the_system_theme_until_the_toggle_is_used(
    page: Any, page_log: PageLog, ui_server: Server
) -> None:
    page.emulate_media(color_scheme="dark")
    page.goto(ui_server.url + "/")
    toggle = page.get_by_role("button", name="Dark theme", exact=True)
    assert toggle.get_attribute("aria-pressed") == "true"
    page.emulate_media(color_scheme="light")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"


@needs_component
def test_the_toggle_passes_the_theme_to_the_component_and_keeps_the_thread(
    page: Any, page_log: PageLog, ui_server: Server, project: str
) -> None:
    page.emulate_media(color_scheme="light")
    opened = open_chat(page, ui_server, project, user="theo")
    chat = opened.chat
    host = page.locator("threadkit-chat")
    expect(host).to_have_attribute("data-color-scheme", "light")
    surface = "getComputedStyle(document.querySelector('threadkit-chat')).color"
    light_text = page.evaluate(surface)
    composer = chat.get_by_role("textbox", name="Message")
    composer.fill("Before the switch")
    composer.press("Enter")
    answer = chat.locator('[data-item-type="assistant_message"]')
    answer.get_by_text("Before the switch").wait_for()

    page.get_by_role("button", name="Dark theme", exact=True).click()
    expect(host).to_have_attribute("data-color-scheme", "dark")
    assert page.evaluate(surface) != light_text
    # the same element and the same thread: setOptions with the same api keeps it open
    expect(answer).to_have_count(1)
    assert opened.ready_count() == 1
    assert axe_violations(page) == []
    page.get_by_role("button", name="Dark theme", exact=True).click()
    expect(host).to_have_attribute("data-color-scheme", "light")
    expect(answer).to_have_count(1)


def test_the_bar_is_one_line_on_a_1000_px_screen(
    page: Any, quiet_without_component: PageLog, ui_server: Server, project: str
) -> None:
    page.set_viewport_size({"width": 1000, "height": 700})
    page.goto(f"{ui_server.url}/?token={ui_token(ui_server, project)}&workflow=widgets")
    page.get_by_label("Workflow").wait_for()
    tops = {
        name: page.get_by_role(role, name=name, exact=True).bounding_box()["y"]
        for role, name in [
            ("textbox", "User name"),
            ("combobox", "Workflow"),
            ("button", "Start new chat"),
            ("button", "Dark theme"),
            ("button", "Sign out"),
        ]
    }
    assert max(tops.values()) - min(tops.values()) <= 4, tops
    assert page.evaluate("document.documentElement.scrollWidth") <= 1000


@needs_component
def test_the_page_chat_takes_attachments_as_its_sessions_allow(
    page: Any, page_log: PageLog, ui_server: Server, project: str
) -> None:
    chat = open_chat(page, ui_server, project, user="uma").chat
    expect(chat.get_by_role("button", name="Add attachment")).to_be_visible()
    chat.locator('input[type="file"]').set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"some notes\n"}
    )
    pending = chat.get_by_role("list", name="Attachments")
    expect(pending.locator(".tk-chip-done")).to_have_count(1)
    composer = chat.get_by_role("textbox", name="Message")
    composer.fill("with a file")
    composer.press("Enter")
    chat.locator('[data-item-type="assistant_message"]').get_by_text("with a file").wait_for()
    client = ui_server.client(project)
    thread = client.beta.chatkit.threads.list(user="uma").data[0]
    items = client.beta.chatkit.threads.list_items(thread.id, order="asc").data
    assert [a.name for a in items[0].attachments] == ["notes.txt"]  # type: ignore[union-attr]


def test_a_phone_sized_screen_needs_no_sideways_scrolling(
    browser: Any, ui_server: Server, project: str
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 700}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(ui_server.url + "/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.get_by_label("Project API key").fill(ui_key(ui_server, project))
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Workflow").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        for label in ("User name", "Workflow"):
            box = page.get_by_label(label).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
            # each label sits right above its own field, not at the end of another line
            text = page.locator("label", has_text=label).bounding_box()
            assert text is not None
            assert abs(text["x"] - box["x"]) <= 1
            assert 0 <= box["y"] - (text["y"] + text["height"]) <= 12
        font = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert font >= 16
    finally:
        context.close()


def test_console_errors_and_outside_requests_are_caught(
    page: Any, page_log: PageLog, ui_server: Server
) -> None:
    page.goto(ui_server.url + "/")
    page.evaluate("fetch('/ui/no-such-file.js').then((r) => r.text())")
    page.evaluate("fetch('http://203.0.113.9/x').catch(() => null)")
    page.evaluate("setTimeout(() => { throw new Error('boom from the page'); }, 0)")
    wanted = {
        "a failed load": lambda p: p.startswith("console error") and "404" in p,
        "a refused request": lambda p: "203.0.113.9" in p,
        "an uncaught error": lambda p: p.startswith("page error") and "boom from the page" in p,
    }
    missing = list(wanted)
    for _ in range(100):  # the events arrive over Playwright's connection
        problems = page_log.problems()
        missing = [w for w, seen in wanted.items() if not any(seen(p) for p in problems)]
        if not missing:
            break
        page.wait_for_timeout(50)
    assert missing == [], page_log.problems()
    page_log.allow("no-such-file|203\\.0\\.113\\.9|boom from the page")
    assert page_log.problems() == []


# --- with the component: the newcomer's path ------------------------------------------------


@pytest.fixture
def newcomer_server(tmp_path: Path) -> Iterator[Server]:
    """A server of its own: its printed URL is the only live token of its database."""
    srv = start_ui_server("sqlite", f"sqlite:///{tmp_path / 'new.db'}", tmp_path)
    yield srv
    stop_server(srv)


def printed_url(server: Server) -> str:
    found = re.findall(r"chat in the browser: (http://\S+)", server.log.read_text())
    assert len(found) == 1, server.log.read_text()
    return found[0]


@needs_component
@pytest.mark.both_backends
def test_from_the_printed_url_to_an_echo_answer(
    page: Any, page_log: PageLog, newcomer_server: Server
) -> None:
    srv = newcomer_server
    page.add_init_script(READY_COUNTER)
    page.goto(printed_url(srv))
    wait_until_ready(page)
    chat = page.locator("threadkit-chat")
    composer = chat.get_by_role("textbox", name="Message")
    composer.fill("Hello from a newcomer")
    composer.press("Enter")
    answer = chat.locator('[data-item-type="assistant_message"]').last
    answer.get_by_text("Hello from a newcomer").wait_for()
    # the thread is the default project's, visible through the REST API
    threads = srv.client("default").beta.chatkit.threads.list(user="guest").data
    assert len(threads) == 1
    items = srv.client("default").beta.chatkit.threads.list_items(threads[0].id, order="asc")
    assert [i.type for i in items.data] == ["chatkit.user_message", "chatkit.assistant_message"]
    assert axe_violations(page) == []
    assert page_log.outside_requests() == []


@needs_component
def test_a_reload_needs_a_new_token(page: Any, page_log: PageLog, newcomer_server: Server) -> None:
    page_log.allow(r"/ui/api/login.*401|status of 401")
    url = printed_url(newcomer_server)
    page.goto(url)
    page.locator("threadkit-chat").get_by_role("textbox", name="Message").wait_for()
    page.reload()
    # nothing was kept: signed out, and the printed link is used up
    page.get_by_label("Project API key").wait_for()
    assert page.locator("threadkit-chat").count() == 0
    page.goto(url)
    page.get_by_text(ALREADY_USED).wait_for()
