"""Thread items through the official openai SDK: all six REST types, every field."""

from __future__ import annotations

import pytest

from tests.conftest import Server
from tests.helpers import all_item_types, assistant_message, thread, user_message, validate


def test_all_six_types_come_back_byte_identical(server: Server, project: str) -> None:
    t = thread()
    items = all_item_types(t["id"])
    server.seed(project, [t, *items])
    with server.http(project) as http:
        raw = http.get(f"/v1/chatkit/threads/{t['id']}/items", params={"order": "asc"})
    assert raw.status_code == 200
    body = raw.json()
    validate(body, "ThreadItemListResource")
    assert body["data"] == items
    # byte for byte: each item is served exactly as it was given
    for item in items:
        assert item["id"] in raw.text
    assert [i["type"] for i in body["data"]] == [
        "chatkit.user_message",
        "chatkit.assistant_message",
        "chatkit.widget",
        "chatkit.client_tool_call",
        "chatkit.task",
        "chatkit.task_group",
    ]

    sdk = list(server.client(project).beta.chatkit.threads.list_items(t["id"], order="asc"))
    assert [i.id for i in sdk] == [i["id"] for i in items]
    user, assistant, widget, call, task, group = sdk
    assert user.content[0].text == "hello"  # type: ignore[union-attr]
    assert user.attachments[0].preview_url == "https://files.example/report.png"  # type: ignore[union-attr]
    assert user.inference_options.tool_choice.id == "search"  # type: ignore[union-attr]
    assert assistant.content[0].annotations[0].source.url == "https://example.com/a"  # type: ignore[union-attr]
    assert widget.widget == '{"type":"Card","children":[]}'  # type: ignore[union-attr]
    assert call.status == "in_progress" and call.output is None  # type: ignore[union-attr]
    assert task.task_type == "thought" and task.summary == "About the weather"  # type: ignore[union-attr]
    assert [x.type for x in group.tasks] == ["custom", "thought"]  # type: ignore[union-attr]


def test_items_default_newest_first(server: Server, project: str) -> None:
    t = thread()
    items = [user_message(t["id"], created_at=1_712_345_601 + i) for i in range(5)]
    server.seed(project, [t, *items])
    page = server.client(project).beta.chatkit.threads.list_items(t["id"])
    assert [i.id for i in page.data] == [i["id"] for i in reversed(items)]
    assert page.has_more is False


def test_equal_created_at_keeps_file_order_across_pages(server: Server, project: str) -> None:
    t = thread()
    items = [assistant_message(t["id"], text=str(i), created_at=1_712_345_601) for i in range(300)]
    server.seed(project, [t, *items])
    api = server.client(project).beta.chatkit.threads
    assert [i.id for i in api.list_items(t["id"], order="asc", limit=7)] == [i["id"] for i in items]
    assert [i.id for i in api.list_items(t["id"], limit=100)] == [i["id"] for i in items][::-1]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_item_cursors(server: Server, project: str, order: str) -> None:
    t = thread()
    items = [user_message(t["id"], created_at=1_712_345_601 + i // 3) for i in range(10)]
    server.seed(project, [t, *items])
    ordered = [i["id"] for i in (items if order == "asc" else items[::-1])]
    api = server.client(project).beta.chatkit.threads
    page = api.list_items(t["id"], after=ordered[2], limit=3, order=order)  # type: ignore[arg-type]
    assert [i.id for i in page.data] == ordered[3:6]
    assert page.has_more is True
    page = api.list_items(t["id"], before=ordered[2], limit=3, order=order)  # type: ignore[arg-type]
    assert [i.id for i in page.data] == ordered[0:2]
    assert page.has_more is False
    page = api.list_items(t["id"], before=ordered[9], limit=3, order=order)  # type: ignore[arg-type]
    assert [i.id for i in page.data] == ordered[6:9]
    assert page.has_more is True


def test_item_cursor_from_another_thread_is_refused(server: Server, project: str) -> None:
    a, b = thread(), thread()
    a_items = all_item_types(a["id"])
    b_items = all_item_types(b["id"])
    server.seed(project, [a, *a_items, b, *b_items])
    with server.http(project) as http:
        for param in ("after", "before"):
            r = http.get(f"/v1/chatkit/threads/{a['id']}/items", params={param: b_items[0]["id"]})
            assert r.status_code == 400
            assert r.json()["error"]["param"] == param
            assert b_items[0]["id"] in r.json()["error"]["message"]
