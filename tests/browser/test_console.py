"""The operator console at ``/console`` in chromium: signing in, the thread list (search,
user filter, order, paging), a thread opened (the chat renderer's items, sanitized, with
their feedback marks), its actions (rename, lock, close, reopen, post as the assistant,
delete) and the downloads (a thread, the project's or a user's export)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageLog
from tests.chatkit_helpers import Chat, error_of, texts
from tests.conftest import Server, with_store
from tests.helpers import thread, user_message
from threadkit.services.keys import KeyService
from threadkit.services.transfer import export_lines

BETA = {"OpenAI-Beta": "chatkit_beta=v1"}
HOSTILE = (
    "Some **bold** words. <img src=x onerror=\"document.title='pwned'\">"
    " <script>document.title='pwned'</script>"
    " [a link](javascript:document.title='pwned')"
)


def refused(page_log: PageLog, status: int, path: str) -> None:
    """Let chromium's console error for a request the test makes fail pass."""
    page_log.allow(rf"status of {status} .*\(http://127\.0\.0\.1:\d+{path}")


def rest(server: Server, project: str) -> openai.OpenAI:
    return server.client(project)


def create(server: Server, project: str, user: str, title: str, *texts_: str) -> dict[str, Any]:
    items = [
        {"type": "chatkit.user_message", "content": [{"type": "input_text", "text": t}]}
        if n % 2 == 0
        else {"type": "chatkit.assistant_message", "content": [{"type": "output_text", "text": t}]}
        for n, t in enumerate(texts_)
    ]
    return rest(server, project).post(
        "/chatkit/threads",
        body={"user": user, "title": title, "items": items},
        cast_to=object,
        options={"headers": BETA},
    )


def as_user(server: Server, project: str, user: str) -> Chat:
    """A protocol client acting as ``user`` with the project's key."""
    return Chat(server.url, server.key(project), {"X-ChatKit-User": user, **BETA})


def sign_in(page: Any, server: Server, key: str) -> None:
    page.goto(f"{server.url}/console")
    page.get_by_label("Project API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def open_console(page: Any, server: Server, project: str) -> Any:
    sign_in(page, server, server.key(project))
    expect(page.get_by_role("list", name="Threads")).to_be_attached()
    expect(page.get_by_role("status").first).not_to_be_empty()
    return page


def rows(page: Any) -> Any:
    return page.locator(".thread-list .row-title")


def open_thread(page: Any, title: str) -> Any:
    page.locator(".thread-row", has_text=title).first.click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    return page.locator("#items")


def exported(server: Server, project: str, user: str | None = None) -> bytes:
    async def collect(store: Any) -> bytes:
        return b"".join([line async for line in export_lines(store, project, user)])

    return with_store(server.db, collect)


def downloaded(page: Any, button: str) -> tuple[str, bytes]:
    with page.expect_download() as caught:
        page.get_by_role("button", name=button, exact=True).click()
    download = caught.value
    return download.suggested_filename, Path(download.path()).read_bytes()


# --- signing in ---------------------------------------------------------------------------


def test_a_wrong_key_is_refused_and_the_key_is_kept_nowhere(
    page: Any, page_log: PageLog, ui_server: Server, project: str
) -> None:
    refused(page_log, 401, "/v1/chatkit/threads")
    sign_in(page, ui_server, "tk-not-a-key")
    expect(page.get_by_role("alert")).to_have_text("That API key is not valid here.")
    expect(page.locator("#workspace")).to_be_hidden()

    key = ui_server.key(project)
    page.get_by_label("Project API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status").first).to_have_text("No threads found.")
    expect(page.get_by_label("Project API key")).to_have_value("")
    stored = page.evaluate(
        "[localStorage.length, sessionStorage.length, document.cookie, location.href]"
    )
    assert stored[:3] == [0, 0, ""] and key not in stored[3]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_revoked_key_goes_back_to_sign_in(
    page: Any, page_log: PageLog, ui_server: Server, project: str
) -> None:
    refused(page_log, 401, "/v1/chatkit/threads")
    created = with_store(ui_server.db, lambda s: KeyService(s).create(project))
    create(ui_server, project, "ada", "Before the revocation", "hi")
    sign_in(page, ui_server, created.secret)
    expect(rows(page)).to_have_text(["Before the revocation"])
    with_store(ui_server.db, lambda s: KeyService(s).revoke(created.row.id))
    page.get_by_role("button", name="Show threads").click()
    expect(page.get_by_role("alert")).to_have_text("The API key stopped working. Sign in again.")
    expect(page.locator("#workspace")).to_be_hidden()


# --- the list -----------------------------------------------------------------------------


def test_the_list_searches_filters_orders_and_pages(
    page: Any, page_log: PageLog, ui_server: Server, project: str
) -> None:
    refused(page_log, 400, "/v1/chatkit/threads")
    objects: list[dict[str, Any]] = []
    for n in range(25):
        t = thread("ben" if n % 5 == 0 else "ada", 1_700_000_000 + n * 60, title=f"Thread {n:02d}")
        text = "I want a refund" if n == 7 else f"message {n}"
        objects += [t, user_message(t["id"], text, t["created_at"])]
    # indexed now: the search below is made once, and the background indexing of the
    # servers on this database may not have come to these rows by then
    ui_server.seed(project, objects, indexed=True)
    open_console(page, ui_server, project)

    expect(rows(page)).to_have_count(20)
    expect(rows(page).first).to_have_text("Thread 24")
    first = page.locator(".thread-row").first
    expect(first.locator(".row-user")).to_have_text("ada")
    expect(first.locator(".row-date")).to_have_text("2023-11-14 22:37 UTC")
    expect(first.locator(".row-status")).to_have_text("active")
    page.get_by_role("button", name="Load more").click()
    expect(rows(page)).to_have_count(25)
    expect(rows(page).last).to_have_text("Thread 00")
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()

    page.get_by_label("Order").select_option("asc")
    expect(rows(page).first).to_have_text("Thread 00")
    expect(rows(page)).to_have_count(20)

    page.get_by_label("User").fill("ben")
    page.get_by_role("button", name="Show threads").click()
    expect(rows(page)).to_have_text([f"Thread {n:02d}" for n in (0, 5, 10, 15, 20)])

    page.get_by_label("User").fill("")
    page.get_by_label("Search").fill("refund")
    page.get_by_role("button", name="Show threads").click()
    expect(rows(page)).to_have_text(["Thread 07"])
    page.get_by_label("User").fill("ben")
    page.get_by_role("button", name="Show threads").click()
    expect(page.get_by_role("status").first).to_have_text("No threads found.")

    # an API error is shown with the envelope's message
    page.get_by_label("Search").fill(" ".join(f"w{n}" for n in range(40)))
    page.get_by_role("button", name="Show threads").click()
    expect(page.get_by_role("status").first).to_contain_text("too many words")


# --- a thread -----------------------------------------------------------------------------


@pytest.mark.both_backends
def test_a_thread_shows_its_items_sanitized_with_their_feedback(
    page: Any, ui_server: Server, project: str
) -> None:
    t = create(
        ui_server,
        project,
        "alice",
        "Rated",
        "<script>document.title='pwned'</script>?",
        HOSTILE,
        "and?",
        "# Fine",
    )
    items = rest(ui_server, project).beta.chatkit.threads.list_items(t["id"], order="asc").data
    alice = as_user(ui_server, project, "alice")
    for item, kind in ((items[1], "negative"), (items[3], "positive")):
        params = {"thread_id": t["id"], "item_ids": [item.id], "kind": kind}
        assert alice.call("items.feedback", params) == {}
    open_console(page, ui_server, project)
    shown = open_thread(page, "Rated")

    user = shown.locator('[data-item-type="user_message"]')
    expect(user.first).to_have_text("<script>document.title='pwned'</script>?")
    answers = shown.locator('[data-item-type="assistant_message"]')
    expect(answers).to_have_count(2)
    expect(answers.first.locator("strong")).to_have_text("bold")
    expect(answers.first).to_contain_text("<img src=x onerror=\"document.title='pwned'\">")
    expect(answers.first.get_by_text("a link")).to_be_visible()
    assert answers.first.locator("a").get_attribute("href") is None
    expect(shown.locator("img, script")).to_have_count(0)
    expect(answers.last.get_by_role("heading", name="Fine")).to_be_visible()
    assert page.title() == "threadkit console"

    expect(answers.first.locator('.console-mark[data-feedback="negative"]')).to_have_text(
        "Marked bad by alice"
    )
    expect(answers.last.locator('.console-mark[data-feedback="positive"]')).to_have_text(
        "Marked good by alice"
    )
    expect(shown.locator(".console-mark")).to_have_count(2)
    meta = page.locator("#thread-meta")
    expect(meta.locator('[data-field="user"]')).to_have_text("alice")
    expect(meta.locator('[data-field="id"]')).to_have_text(t["id"])


@pytest.mark.both_backends
def test_rename_lock_close_reopen_and_post_as_the_assistant(
    page: Any, ui_server: Server, project: str
) -> None:
    t = create(ui_server, project, "bob", "Old title", "hello")
    bob = as_user(ui_server, project, "bob")
    open_console(page, ui_server, project)
    open_thread(page, "Old title")
    client = rest(ui_server, project)

    page.get_by_role("textbox", name="Title").fill("New title")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name="New title")).to_be_visible()
    expect(rows(page)).to_have_text(["New title"])
    assert client.beta.chatkit.threads.retrieve(t["id"]).title == "New title"

    message = {
        "thread_id": t["id"],
        "input": {
            "content": [{"type": "input_text", "text": "anyone?"}],
            "attachments": [],
            "inference_options": {},
        },
    }
    status = page.locator('#thread-meta [data-field="status"]')
    for button, kind in (("Lock", "locked"), ("Close", "closed")):
        page.get_by_label("Reason").fill(f"{kind} for review")
        page.get_by_role("button", name=button, exact=True).click()
        expect(status).to_have_text(f"{kind}: {kind} for review")
        expect(page.locator(".row-status")).to_have_text(f"{kind}: {kind} for review")
        expect(page.get_by_role("button", name=button, exact=True)).to_be_disabled()
        refused = bob.post("threads.add_user_message", message)
        assert refused.status_code == 409 and error_of(refused)["code"] == f"thread_{kind}"
    page.get_by_role("button", name="Reopen", exact=True).click()
    expect(status).to_have_text("active")
    expect(page.get_by_role("button", name="Reopen", exact=True)).to_be_disabled()
    assert texts(bob.stream("threads.add_user_message", message)) == ["anyone?"]

    page.get_by_label("Post a message as the assistant").fill("A human agent, **here**.")
    page.get_by_role("button", name="Post", exact=True).click()
    answers = page.locator('#items [data-item-type="assistant_message"]')
    expect(answers.last.locator("strong")).to_have_text("here")
    expect(page.get_by_label("Post a message as the assistant")).to_have_value("")
    listed = client.beta.chatkit.threads.list_items(t["id"], order="asc").data
    assert listed[-1].type == "chatkit.assistant_message"
    assert listed[-1].content[0].text == "A human agent, **here**."  # type: ignore[union-attr]
    # what bob's turn added is shown too, in order
    expect(page.locator("#items [data-item-id]")).to_have_count(len(listed))
    visible = bob.call("items.list", {"thread_id": t["id"], "order": "asc", "limit": 50})
    assert visible["data"][-1]["content"][0]["text"] == "A human agent, **here**."


def test_delete_asks_first(page: Any, ui_server: Server, project: str) -> None:
    kept = create(ui_server, project, "ada", "Kept", "x")
    doomed = create(ui_server, project, "ada", "Doomed", "y")
    open_console(page, ui_server, project)
    open_thread(page, "Doomed")
    client = rest(ui_server, project)

    page.get_by_role("button", name="Delete thread").click()
    dialog = page.get_by_role("dialog", name="Delete this thread?")
    expect(dialog).to_contain_text("\u201cDoomed\u201d of ada")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert client.beta.chatkit.threads.retrieve(doomed["id"]).title == "Doomed"

    page.get_by_role("button", name="Delete thread").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").first).to_have_text("Deleted \u201cDoomed\u201d.")
    expect(rows(page)).to_have_text(["Kept"])
    expect(page.locator("#thread")).to_be_hidden()
    with pytest.raises(openai.NotFoundError):
        client.beta.chatkit.threads.retrieve(doomed["id"])
    assert client.beta.chatkit.threads.retrieve(kept["id"]).title == "Kept"


def test_an_action_on_a_thread_deleted_meanwhile_shows_the_error(
    page: Any, page_log: PageLog, ui_server: Server, project: str
) -> None:
    refused(page_log, 404, "/v1/chatkit/threads/cthr_")
    t = create(ui_server, project, "ada", "Gone soon", "x")
    open_console(page, ui_server, project)
    open_thread(page, "Gone soon")
    rest(ui_server, project).beta.chatkit.threads.delete(t["id"])
    page.get_by_role("button", name="Lock", exact=True).click()
    expect(page.locator("#thread-error")).to_have_text(f"No thread found with id '{t['id']}'.")


# --- downloads ----------------------------------------------------------------------------


@pytest.mark.both_backends
def test_a_thread_and_the_exports_download_as_the_export_format(
    page: Any, ui_server: Server, project: str
) -> None:
    ada = create(ui_server, project, "ada", "Ada's", "hi", "hello **there**", "thanks \u00e9\u4e16")
    create(ui_server, project, "ben", "Ben's", "hey")
    open_console(page, ui_server, project)

    name, body = downloaded(page, "Export")
    assert name == "threadkit-export.jsonl"
    assert body == exported(ui_server, project) and body.count(b"\n") == 6

    page.get_by_label("User").fill("ben")
    name, body = downloaded(page, "Export")
    assert name == "threadkit-export-ben.jsonl"
    assert body == exported(ui_server, project, "ben") and body.count(b"\n") == 2

    page.get_by_label("User").fill("")
    page.get_by_role("button", name="Show threads").click()
    open_thread(page, "Ada's")
    name, body = downloaded(page, "Download JSON Lines")
    assert name == f"{ada['id']}.jsonl"
    # the thread's line, then its items': the thread's part of the export, byte for byte
    assert body == exported(ui_server, project, "ada")


def test_a_user_no_header_can_name_is_read_over_rest(
    page: Any, ui_server: Server, project: str
) -> None:
    create(ui_server, project, "\u5c71\u7530", "Beyond Latin-1", "hello", "**hi** there")
    open_console(page, ui_server, project)
    shown = open_thread(page, "Beyond Latin-1")
    expect(shown.locator('[data-item-type="user_message"]')).to_have_text("hello")
    expect(shown.locator('[data-item-type="assistant_message"] strong')).to_have_text("hi")
    expect(page.locator('#thread-meta [data-field="user"]')).to_have_text("\u5c71\u7530")
