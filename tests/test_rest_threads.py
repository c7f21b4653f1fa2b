"""The threads REST API through the official openai SDK (sync and async)."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from tests.conftest import Server
from tests.helpers import all_item_types, thread, validate


def _seed_threads(server: Server, project: str, count: int, **kw: object) -> list[dict]:
    threads = [thread(created_at=1_700_000_000 + i, **kw) for i in range(count)]  # type: ignore[arg-type]
    server.seed(project, threads)
    return threads


def test_retrieve_returns_the_six_fields(server: Server, project: str) -> None:
    t = thread(user="user_456", title="Demo feedback", status={"type": "locked", "reason": "spam"})
    server.seed(project, [t])
    with server.http(project) as http:
        raw = http.get(f"/v1/chatkit/threads/{t['id']}")
    assert raw.status_code == 200
    body = raw.json()
    assert body == t
    assert list(body) == ["id", "object", "created_at", "title", "status", "user"]
    validate(body, "ThreadResource")

    got = server.client(project).beta.chatkit.threads.retrieve(t["id"])
    assert got.id == t["id"]
    assert got.user == "user_456"
    assert got.title == "Demo feedback"
    assert got.status.type == "locked"
    assert got.status.reason == "spam"  # type: ignore[union-attr]
    assert got.created_at == t["created_at"]


def test_retrieve_with_items_returns_first_page_oldest_first(server: Server, project: str) -> None:
    t = thread()
    items = all_item_types(t["id"])
    server.seed(project, [t, *items])
    with server.http(project) as http:
        body = http.get(f"/v1/chatkit/threads/{t['id']}", params={"include": "items"}).json()
    listed = body.pop("items")
    assert body == t
    assert listed["object"] == "list"
    assert listed["data"] == items
    assert listed["first_id"] == items[0]["id"]
    assert listed["last_id"] == items[-1]["id"]
    assert listed["has_more"] is False
    validate(listed, "ThreadItemListResource")


def test_retrieve_with_items_says_when_more_exist(server: Server, project: str) -> None:
    t = thread()
    items = [
        {**all_item_types(t["id"])[1], "id": f"cthi_{i:04d}", "created_at": 1_712_345_601 + i}
        for i in range(25)
    ]
    server.seed(project, [t, *items])
    with server.http(project) as http:
        listed = http.get(f"/v1/chatkit/threads/{t['id']}?include=items").json()["items"]
    assert [i["id"] for i in listed["data"]] == [i["id"] for i in items[:20]]
    assert listed["has_more"] is True


def test_list_defaults_to_newest_first_and_twenty(server: Server, project: str) -> None:
    threads = _seed_threads(server, project, 25)
    page = server.client(project).beta.chatkit.threads.list()
    newest_first = [t["id"] for t in reversed(threads)]
    assert [t.id for t in page.data] == newest_first[:20]
    assert page.has_more is True
    assert page.last_id == newest_first[19]
    with server.http(project) as http:
        raw = http.get("/v1/chatkit/threads").json()
    validate(raw, "ThreadListResource")
    assert raw["first_id"] == newest_first[0]


def test_auto_pagination_visits_every_thread_once(server: Server, project: str) -> None:
    threads = _seed_threads(server, project, 57)
    client = server.client(project)
    seen = [t.id for t in client.beta.chatkit.threads.list(limit=10)]
    assert seen == [t["id"] for t in reversed(threads)]
    seen_asc = [t.id for t in client.beta.chatkit.threads.list(limit=7, order="asc")]
    assert seen_asc == [t["id"] for t in threads]


def test_pagination_is_stable_when_hundreds_share_created_at(server: Server, project: str) -> None:
    threads = [thread(created_at=1_700_000_000) for _ in range(230)]
    server.seed(project, threads)
    client = server.client(project)
    ids_in_file_order = [t["id"] for t in threads]
    assert [
        t.id for t in client.beta.chatkit.threads.list(limit=9, order="asc")
    ] == ids_in_file_order
    assert [t.id for t in client.beta.chatkit.threads.list(limit=100)] == ids_in_file_order[::-1]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_after_and_before_are_relative_to_the_order(
    server: Server, project: str, order: str
) -> None:
    threads = _seed_threads(server, project, 12)
    ordered = [t["id"] for t in (threads if order == "asc" else threads[::-1])]
    api = server.client(project).beta.chatkit.threads

    after = api.list(after=ordered[3], limit=4, order=order)  # type: ignore[arg-type]
    assert [t.id for t in after.data] == ordered[4:8]
    assert after.has_more is True
    assert after.last_id == ordered[7]

    tail = api.list(after=ordered[7], limit=4, order=order)  # type: ignore[arg-type]
    assert [t.id for t in tail.data] == ordered[8:12]
    assert tail.has_more is False

    before = api.list(before=ordered[8], limit=3, order=order)  # type: ignore[arg-type]
    assert [t.id for t in before.data] == ordered[5:8]
    assert before.has_more is True  # ordered[0:5] lie beyond, in the direction of travel

    head = api.list(before=ordered[2], limit=5, order=order)  # type: ignore[arg-type]
    assert [t.id for t in head.data] == ordered[0:2]
    assert head.has_more is False

    between = api.list(after=ordered[1], before=ordered[6], limit=10, order=order)  # type: ignore[arg-type]
    assert [t.id for t in between.data] == ordered[2:6]
    assert between.has_more is False


def test_limit_zero_returns_no_data_but_says_more_exist(server: Server, project: str) -> None:
    _seed_threads(server, project, 2)
    page = server.client(project).beta.chatkit.threads.list(limit=0)
    assert page.data == []
    assert page.has_more is True
    with server.http(project) as http:
        body = http.get("/v1/chatkit/threads", params={"limit": 0}).json()
    assert body["first_id"] is None and body["last_id"] is None


def test_user_filter(server: Server, project: str) -> None:
    alice = _seed_threads(server, project, 3, user="alice")
    bob = _seed_threads(server, project, 2, user="bob ünïcødé")
    api = server.client(project).beta.chatkit.threads
    assert {t.id for t in api.list(user="alice")} == {t["id"] for t in alice}
    assert [t.id for t in api.list(user="bob ünïcødé", order="asc")] == [t["id"] for t in bob]
    assert list(api.list(user="carol")) == []
    assert len(list(api.list())) == 5


def test_delete_removes_thread_and_items(server: Server, project: str) -> None:
    t = thread()
    other = thread()
    server.seed(project, [t, *all_item_types(t["id"]), other, *all_item_types(other["id"])])
    client = server.client(project)
    deleted = client.beta.chatkit.threads.delete(t["id"])
    assert deleted.id == t["id"]
    assert deleted.deleted is True
    assert deleted.object == "chatkit.thread.deleted"
    with pytest.raises(openai.NotFoundError):
        client.beta.chatkit.threads.retrieve(t["id"])
    with pytest.raises(openai.NotFoundError):
        client.beta.chatkit.threads.list_items(t["id"])
    with pytest.raises(openai.NotFoundError) as again:
        client.beta.chatkit.threads.delete(t["id"])
    assert again.value.status_code == 404
    # the other thread and its items are untouched
    assert len(list(client.beta.chatkit.threads.list_items(other["id"]))) == 6
    with server.http(project) as http:
        validate(http.delete(f"/v1/chatkit/threads/{other['id']}").json(), "DeletedThreadResource")


def test_projects_are_isolated(server: Server, project: str) -> None:
    mine = thread()
    server.seed(project, [mine, *all_item_types(mine["id"])])
    stranger = server.client(project + "_other")
    with pytest.raises(openai.NotFoundError) as missing:
        stranger.beta.chatkit.threads.retrieve(mine["id"])
    with pytest.raises(openai.NotFoundError) as unknown:
        stranger.beta.chatkit.threads.retrieve("cthr_does_not_exist")
    # a foreign thread answers exactly like a missing one
    assert missing.value.body == {
        **unknown.value.body,  # type: ignore[dict-item]
        "message": f"No thread found with id '{mine['id']}'.",
    }
    with pytest.raises(openai.NotFoundError):
        stranger.beta.chatkit.threads.delete(mine["id"])
    with pytest.raises(openai.NotFoundError):
        stranger.beta.chatkit.threads.list_items(mine["id"])
    assert list(stranger.beta.chatkit.threads.list()) == []
    # still there for its owner
    assert server.client(project).beta.chatkit.threads.retrieve(mine["id"]).id == mine["id"]


def test_same_ids_may_live_in_two_projects(server: Server, project: str) -> None:
    t = thread(id="cthr_shared_id", user="u1")
    items = all_item_types(t["id"])
    for i, item in enumerate(items):
        item["id"] = f"cthi_shared_{i}"
    server.seed(project, [t, *items])
    server.seed(project + "_b", [{**t, "user": "u2"}, *items])
    assert server.client(project).beta.chatkit.threads.retrieve(t["id"]).user == "u1"
    assert server.client(project + "_b").beta.chatkit.threads.retrieve(t["id"]).user == "u2"


def test_async_client(server: Server, project: str) -> None:
    threads = _seed_threads(server, project, 15)

    client = server.async_client(project)

    async def go() -> None:
        got = await client.beta.chatkit.threads.retrieve(threads[0]["id"])
        assert got.id == threads[0]["id"]
        seen = [t.id async for t in client.beta.chatkit.threads.list(limit=4, order="asc")]
        assert seen == [t["id"] for t in threads]
        items = [i async for i in client.beta.chatkit.threads.list_items(threads[0]["id"])]
        assert items == []
        deleted = await client.beta.chatkit.threads.delete(threads[1]["id"])
        assert deleted.deleted is True
        with pytest.raises(openai.NotFoundError) as exc:
            await client.beta.chatkit.threads.retrieve(threads[1]["id"])
        assert exc.value.request_id and exc.value.request_id.startswith("req_")
        await client.close()

    asyncio.run(go())


def test_unicode_round_trips(server: Server, project: str) -> None:
    t = thread(user="用户 🙂", title='Ünïcødé — \u2028 "quotes" \\ ')
    server.seed(project, [t])
    with server.http(project) as http:
        raw = http.get(f"/v1/chatkit/threads/{t['id']}")
    assert json.loads(raw.content) == t
    assert server.client(project).beta.chatkit.threads.retrieve(t["id"]).title == t["title"]
    assert [x.id for x in server.client(project).beta.chatkit.threads.list(user="用户 🙂")] == [
        t["id"]
    ]
