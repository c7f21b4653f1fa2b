"""threadkit's REST extensions (create, update, append, delete an item, search,
``include=metadata``) through the official openai SDK's generic calls, on both backends."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai
import pytest

from tests.chatkit_helpers import Chat, error_of, texts, wait_for
from tests.conftest import Server
from tests.helpers import thread, user_message, validate
from tests.test_rest_errors import assert_envelope

BETA = {"OpenAI-Beta": "chatkit_beta=v1"}


def post(client: openai.OpenAI, path: str, body: dict[str, Any], **query: Any) -> Any:
    """A POST as the docs show it: the SDK's generic call with the beta header."""
    return client.post(path, body=body, cast_to=object, options={"headers": BETA, "params": query})


def delete(client: openai.OpenAI, path: str) -> Any:
    return client.delete(path, cast_to=object, options={"headers": BETA})


def said(text: str, role: str = "assistant") -> dict[str, Any]:
    if role == "user":
        return {"type": "chatkit.user_message", "content": [{"type": "input_text", "text": text}]}
    return {"type": "chatkit.assistant_message", "content": [{"type": "output_text", "text": text}]}


def test_create_returns_the_hosted_thread_with_its_items_in_order(
    server: Server, project: str
) -> None:
    client = server.client(project)
    created = post(
        client,
        "/chatkit/threads",
        {
            "user": "user_456",
            "title": "Refund request",
            "status": {"type": "locked", "reason": "waiting for the customer"},
            "metadata": {"ticket": "T-1"},
            "items": [
                said("I want a refund", "user"),
                said("We are on it."),
                said("Thanks", "user"),
            ],
        },
    )
    assert list(created) == ["id", "object", "created_at", "title", "status", "user"]
    validate(created, "ThreadResource")
    assert created["id"].startswith("cthr_") and len(created["id"]) == 5 + 48
    assert created["title"] == "Refund request"
    assert created["status"] == {"type": "locked", "reason": "waiting for the customer"}
    assert created["user"] == "user_456"

    got = client.beta.chatkit.threads.retrieve(created["id"])
    assert (got.id, got.title, got.status.type, got.created_at) == (
        created["id"],
        "Refund request",
        "locked",
        created["created_at"],
    )
    items = list(client.beta.chatkit.threads.list_items(created["id"], order="asc"))
    assert [i.type for i in items] == [
        "chatkit.user_message",
        "chatkit.assistant_message",
        "chatkit.user_message",
    ]
    assert [i.content[0].text for i in items] == ["I want a refund", "We are on it.", "Thanks"]  # type: ignore[union-attr]
    assert all(i.id.startswith("cthi_") and i.thread_id == created["id"] for i in items)
    assert all(i.created_at == created["created_at"] for i in items)
    with server.http(project) as http:
        for raw in http.get(f"/v1/chatkit/threads/{created['id']}/items").json()["data"]:
            validate(raw, "ThreadItem")
    # The metadata is there, shown only when asked for.
    with_metadata = client.beta.chatkit.threads.retrieve(
        created["id"], extra_query={"include": "metadata"}
    )
    assert with_metadata.model_extra == {"metadata": {"ticket": "T-1"}}
    assert got.model_extra == {}

    # The SDK can hand back the raw response too.
    raw = client.post(
        "/chatkit/threads", body={"user": "u"}, cast_to=httpx.Response, options={"headers": BETA}
    )
    assert raw.status_code == 200 and raw.headers["x-request-id"].startswith("req_")
    assert raw.json()["title"] is None and raw.json()["status"] == {"type": "active"}


def test_update_sets_title_status_and_metadata(server: Server, project: str) -> None:
    client = server.client(project)
    t = post(client, "/chatkit/threads", {"user": "u1", "title": "Old"})
    path = f"/chatkit/threads/{t['id']}"

    renamed = post(client, path, {"title": "New"})
    assert renamed == {**t, "title": "New"}
    closed = post(
        client, path, {"status": {"type": "closed", "reason": "done"}}, include="metadata"
    )
    assert closed == {
        **t,
        "title": "New",
        "status": {"type": "closed", "reason": "done"},
        "metadata": {},
    }
    tagged = post(client, path, {"metadata": {"a": "1", "b": "2"}}, include="metadata")
    assert tagged["metadata"] == {"a": "1", "b": "2"}
    assert post(client, path, {}, include="metadata") == tagged  # nothing asked, nothing changed

    reopened = post(client, path, {"status": {"type": "active"}, "title": None, "metadata": None})
    assert reopened == {**t, "title": None, "status": {"type": "active"}}
    got = client.get(
        path, cast_to=object, options={"headers": BETA, "params": {"include": "metadata"}}
    )
    assert got["metadata"] == {} and got["title"] is None
    locked = post(client, path, {"status": {"type": "locked"}})
    assert locked["status"] == {"type": "locked", "reason": None}
    validate(locked, "ThreadResource")


def test_append_and_delete_items(server: Server, project: str) -> None:
    client = server.client(project)
    t = post(client, "/chatkit/threads", {"user": "u1", "items": [said("first", "user")]})
    path = f"/chatkit/threads/{t['id']}/items"
    widget = {"type": "chatkit.widget", "widget": '{"type":"Card","children":[]}'}
    appended = post(client, path, {"items": [said("second"), widget]})
    assert appended["object"] == "list" and appended["has_more"] is False
    validate(appended, "ThreadItemListResource")
    ids = [i["id"] for i in appended["data"]]
    assert (appended["first_id"], appended["last_id"]) == (ids[0], ids[-1])
    assert appended["data"][0]["content"] == [
        {"type": "output_text", "text": "second", "annotations": []}
    ]
    listed = list(client.beta.chatkit.threads.list_items(t["id"], order="asc"))
    assert [i.id for i in listed][1:] == ids  # after what was there
    assert [i.type for i in listed] == [
        "chatkit.user_message",
        "chatkit.assistant_message",
        "chatkit.widget",
    ]
    with server.http(project) as http:
        listing = http.get(f"/v1{path}", params={"order": "asc"}).json()
    assert listing["data"][1:] == appended["data"]

    gone = delete(client, f"{path}/{ids[0]}")
    assert gone == {"id": ids[0], "object": "chatkit.thread_item.deleted", "deleted": True}
    assert [i.id for i in client.beta.chatkit.threads.list_items(t["id"])] == [
        ids[1],
        listed[0].id,
    ]
    with pytest.raises(openai.NotFoundError) as again:
        delete(client, f"{path}/{ids[0]}")
    assert again.value.body["message"] == (  # type: ignore[index]
        f"No item found with id '{ids[0]}' in thread '{t['id']}'."
    )


def test_unknown_and_foreign_threads_are_not_found(server: Server, project: str) -> None:
    mine = post(server.client(project), "/chatkit/threads", {"user": "u", "items": [said("x")]})
    item = server.client(project).beta.chatkit.threads.list_items(mine["id"]).data[0].id
    stranger = server.client(project + "_other")
    for thread_id in (mine["id"], "cthr_missing"):
        calls = [
            ("post", f"/chatkit/threads/{thread_id}", {"title": "x"}),
            ("post", f"/chatkit/threads/{thread_id}/items", {"items": [said("x")]}),
            ("delete", f"/chatkit/threads/{thread_id}/items/{item}", None),
        ]
        for method, path, body in calls:
            with pytest.raises(openai.NotFoundError) as caught:
                if method == "post":
                    post(stranger, path, body)
                else:
                    delete(stranger, path)
            assert caught.value.body == {  # type: ignore[comparison-overlap]
                "message": f"No thread found with id '{thread_id}'.",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
    found = stranger.get(
        "/chatkit/threads", cast_to=object, options={"headers": BETA, "params": {"q": "x"}}
    )
    assert found["data"] == []
    # untouched for its owner
    assert server.client(project).beta.chatkit.threads.retrieve(mine["id"]).title is None
    assert len(list(server.client(project).beta.chatkit.threads.list_items(mine["id"]))) == 1


def test_search_through_the_sdk(server: Server, project: str) -> None:
    client = server.client(project)

    def create(user: str, title: str | None, *texts: str) -> str:
        body: dict[str, Any] = {"user": user, "title": title, "items": [said(x) for x in texts]}
        return post(client, "/chatkit/threads", body)["id"]

    refund = create("alice", "Refund for order 1234", "Hello")
    late = create("bob", "Shipping", "Where is my REFUND?", "Your order is late.")
    ecole = create("alice", None, "L'École est fermée; 東京タワー")
    search = client.beta.chatkit.threads

    def ids(q: str, **kw: Any) -> list[str]:
        return [t.id for t in search.list(extra_query={"q": q}, **kw)]

    assert ids("refund") == [late, refund]
    assert ids("refund order") == [refund]  # every word in one title or one message
    assert ids("Order LATE") == [late]
    assert ids("refund", user="alice") == [refund]
    assert ids("refund", order="asc") == [refund, late]
    assert ids("refu") == [late, refund]  # the last word as a prefix
    assert ids("refu ") == []
    assert ids("école") == [ecole] and ids("東京タワー") == [ecole] and ids("fermé") == [ecole]
    assert ids("nothing like this") == []
    # pages: the SDK's auto-pagination keeps the query
    many = [create("carol", f"Batch {i}", "common words here") for i in range(7)]
    assert ids("common", limit=3) == many[::-1]
    page = search.list(extra_query={"q": "common"}, limit=3, after=many[4])
    assert [t.id for t in page.data] == [many[3], many[2], many[1]] and page.has_more
    with server.http(project) as http:
        raw = http.get("/v1/chatkit/threads", params={"q": "shipping", "include": "metadata"})
    assert raw.json()["data"] == [{**search.retrieve(late).model_dump(), "metadata": {}}]
    validate(raw.json(), "ThreadListResource")

    # What changes is found at once.
    post(client, f"/chatkit/threads/{refund}/items", {"items": [said("a zebra appears")]})
    assert ids("zebra") == [refund]
    post(client, f"/chatkit/threads/{refund}", {"title": "Renamed"})
    assert ids("renamed") == [refund] and ids("1234") == []
    zebra_item = search.list_items(refund, order="desc").data[0].id
    delete(client, f"/chatkit/threads/{refund}/items/{zebra_item}")
    assert ids("zebra") == []
    search.delete(late)
    assert ids("refund") == []
    imported = thread(user="dave", title="Imported")
    server.seed(project, [imported, user_message(imported["id"], "xylophone lesson")])
    # an import is indexed after it commits, by the server in the background
    assert wait_for(lambda: ids("xylophone"), timeout=20) == [imported["id"]]


def test_a_locked_thread_refuses_protocol_input_until_reopened(
    chatkit_server: Server, project: str
) -> None:
    client = chatkit_server.client(project)
    t = post(client, "/chatkit/threads", {"user": "alice", "title": "From the back office"})
    alice = Chat(
        chatkit_server.url,
        chatkit_server.key(project),
        {"X-ChatKit-User": "alice", "X-ChatKit-Workflow": "parrot"},
    )
    # The thread is the user's over the protocol, with its title.
    shown = alice.call("threads.get_by_id", {"thread_id": t["id"]})
    assert (shown["id"], shown["title"]) == (t["id"], "From the back office")

    post(client, f"/chatkit/threads/{t['id']}", {"status": {"type": "locked", "reason": "review"}})
    refused = alice.post(
        "threads.add_user_message",
        {
            "thread_id": t["id"],
            "input": {
                "content": [{"type": "input_text", "text": "hi"}],
                "attachments": [],
                "inference_options": {},
            },
        },
    )
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "thread_locked"

    post(client, f"/chatkit/threads/{t['id']}", {"status": {"type": "active"}})
    assert texts(alice.say(t["id"], "hello")) == ["hello"]  # the parrot answers again

    # Items posted by the back office are in the protocol's items.list at once, in order.
    appended = post(
        client, f"/chatkit/threads/{t['id']}/items", {"items": [said("A human agent here.")]}
    )
    listed = alice.call("items.list", {"thread_id": t["id"], "order": "asc", "limit": 50})
    assert listed["data"][-1]["id"] == appended["first_id"]
    assert listed["data"][-1]["type"] == "assistant_message"
    assert listed["data"][-1]["content"][0]["text"] == "A human agent here."
    # another user of the project does not see it over the protocol
    bob = Chat(chatkit_server.url, chatkit_server.key(project), {"X-ChatKit-User": "bob"})
    assert bob.post("threads.get_by_id", {"thread_id": t["id"]}).status_code == 404


def _bad(body: Any, param: str | None, code: str) -> tuple[Any, str | None, str]:
    return body, param, code


CREATE_ERRORS = [
    _bad({}, "user", "missing_required_parameter"),
    _bad({"user": ""}, "user", "empty_string"),
    _bad({"user": "u" * 513}, "user", "string_above_max_length"),
    _bad({"user": 5}, "user", "invalid_type"),
    _bad({"user": "u\x00"}, "user", "invalid_value"),
    _bad({"user": "u", "title": "t" * 1025}, "title", "string_above_max_length"),
    _bad({"user": "u", "title": 5}, "title", "invalid_type"),
    _bad({"user": "u", "title": "a\x00b"}, "title", "invalid_value"),
    _bad({"user": "u", "status": "locked"}, "status", "invalid_type"),
    _bad({"user": "u", "status": {}}, "status.type", "missing_required_parameter"),
    _bad({"user": "u", "status": {"type": "archived"}}, "status.type", "invalid_value"),
    _bad({"user": "u", "status": {"type": 1}}, "status.type", "invalid_type"),
    _bad(
        {"user": "u", "status": {"type": "active", "reason": "x"}},
        "status.reason",
        "unknown_parameter",
    ),
    _bad({"user": "u", "status": {"type": "locked", "reason": 5}}, "status.reason", "invalid_type"),
    _bad(
        {"user": "u", "status": {"type": "locked", "why": "x"}}, "status.why", "unknown_parameter"
    ),
    _bad({"user": "u", "metadata": []}, "metadata", "invalid_type"),
    _bad(
        {"user": "u", "metadata": {str(i): "v" for i in range(17)}},
        "metadata",
        "object_above_max_properties",
    ),
    _bad({"user": "u", "metadata": {"k": 1}}, "metadata.k", "invalid_type"),
    _bad({"user": "u", "metadata": {"k" * 65: "v"}}, "metadata", "invalid_key"),
    _bad({"user": "u", "metadata": {"k": "v" * 513}}, "metadata.k", "string_above_max_length"),
    _bad({"user": "u", "colour": "red"}, "colour", "unknown_parameter"),
    _bad({"user": "u", "items": {}}, "items", "invalid_type"),
    _bad({"user": "u", "items": [said("x")] * 101}, "items", "array_above_max_length"),
    _bad({"user": "u", "items": ["x"]}, "items[0]", "invalid_type"),
    _bad(
        {"user": "u", "items": [{**said("x"), "id": "cthi_mine"}]},
        "items[0].id",
        "unknown_parameter",
    ),
    _bad(
        {"user": "u", "items": [{**said("x"), "created_at": 1}]},
        "items[0].created_at",
        "unknown_parameter",
    ),
    _bad({"user": "u", "items": [{"content": []}]}, "items[0].type", "missing_required_parameter"),
    _bad({"user": "u", "items": [{"type": "chatkit.bogus"}]}, "items[0].type", "invalid_value"),
    _bad(
        {"user": "u", "items": [said("x"), {"type": "chatkit.assistant_message"}]},
        "items[1].content",
        "invalid_value",
    ),
    _bad(
        {
            "user": "u",
            "items": [{"type": "chatkit.assistant_message", "content": [{"type": "output_text"}]}],
        },
        "items[0].content[0].text",
        "invalid_value",
    ),
    _bad(
        {
            "user": "u",
            "items": [
                {"type": "chatkit.user_message", "content": [{"type": "input_text", "text": 5}]}
            ],
        },
        "items[0].content[0].text",
        "invalid_value",
    ),
    _bad(
        {"user": "u", "items": [{**said("x"), "colour": "red"}]},
        "items[0].colour",
        "unknown_parameter",
    ),
    _bad([], None, "invalid_type"),
]


@pytest.mark.parametrize(("body", "param", "code"), CREATE_ERRORS)
def test_bad_create_bodies_are_400_naming_the_field(
    server: Server, project: str, body: Any, param: str | None, code: str
) -> None:
    with server.http(project) as http:
        r = http.post("/v1/chatkit/threads", json=body)
    assert_envelope(r, 400, type="invalid_request_error", param=param, code=code)
    assert server.client(project).beta.chatkit.threads.list().data == []  # nothing stored


def test_bad_update_append_and_search_requests_are_400(server: Server, project: str) -> None:
    t = post(server.client(project), "/chatkit/threads", {"user": "u", "title": "kept"})
    cases: list[tuple[str, str, Any, dict[str, str], str | None, str]] = [
        (
            "POST",
            f"/v1/chatkit/threads/{t['id']}",
            {"user": "other"},
            {},
            "user",
            "unknown_parameter",
        ),
        (
            "POST",
            f"/v1/chatkit/threads/{t['id']}",
            {"status": {"type": "open"}},
            {},
            "status.type",
            "invalid_value",
        ),
        ("POST", f"/v1/chatkit/threads/{t['id']}", {"title": ""}, {}, "title", "empty_string"),
        (
            "POST",
            f"/v1/chatkit/threads/{t['id']}",
            {},
            {"include": "items"},
            "include",
            "invalid_value",
        ),
        (
            "POST",
            f"/v1/chatkit/threads/{t['id']}/items",
            {},
            {},
            "items",
            "missing_required_parameter",
        ),
        ("POST", f"/v1/chatkit/threads/{t['id']}/items", {"items": []}, {}, "items", "empty_array"),
        (
            "POST",
            f"/v1/chatkit/threads/{t['id']}/items",
            {"items": [said("x")], "x": 1},
            {},
            "x",
            "unknown_parameter",
        ),
        ("GET", "/v1/chatkit/threads", None, {"q": ""}, "q", "empty_string"),
        ("GET", "/v1/chatkit/threads", None, {"q": "q" * 513}, "q", "string_above_max_length"),
        ("GET", "/v1/chatkit/threads", None, {"q": " ".join(["w"] * 33)}, "q", "invalid_value"),
        (
            "GET",
            "/v1/chatkit/threads",
            None,
            {"q": "kept", "after": "cthr_unknown"},
            "after",
            "invalid_cursor",
        ),
        (
            "GET",
            "/v1/chatkit/threads",
            None,
            {"q": "kept", "before": "nope"},
            "before",
            "invalid_cursor",
        ),
        (
            "GET",
            "/v1/chatkit/threads",
            None,
            {"q": "kept", "limit": "101"},
            "limit",
            "integer_above_max_value",
        ),
        (
            "GET",
            "/v1/chatkit/threads",
            None,
            {"q": "kept", "limit": "-1"},
            "limit",
            "integer_below_min_value",
        ),
        (
            "GET",
            "/v1/chatkit/threads",
            None,
            {"q": "kept", "order": "up"},
            "order",
            "invalid_value",
        ),
        ("GET", "/v1/chatkit/threads", None, {"include": "items"}, "include", "invalid_value"),
        (
            "GET",
            f"/v1/chatkit/threads/{t['id']}",
            None,
            {"include": "everything"},
            "include",
            "invalid_value",
        ),
    ]
    with server.http(project) as http:
        for method, path, body, params, param, code in cases:
            r = http.request(method, path, json=body, params=params)
            assert_envelope(r, 400, param=param, code=code)
            assert http.get(f"/v1/chatkit/threads/{t['id']}").json() == t  # unchanged
        r = http.post(f"/v1/chatkit/threads/{t['id']}", content=b"{not json")
        assert_envelope(r, 400, code=None)
    # a huge title is refused, the thread keeps its own
    with pytest.raises(openai.BadRequestError) as caught:
        post(server.client(project), f"/chatkit/threads/{t['id']}", {"title": "x" * 100_000})
    assert caught.value.param == "title"
    # a search with no word to look for finds nothing, whatever the filters
    with server.http(project) as http:
        assert http.get("/v1/chatkit/threads", params={"q": "?!", "limit": 0}).json()["data"] == []


def test_extensions_keep_auth_the_beta_header_and_the_body_limit(
    server: Server, project: str
) -> None:
    t = post(server.client(project), "/chatkit/threads", {"user": "u"})
    targets = [
        ("POST", "/v1/chatkit/threads", {"user": "u"}),
        ("POST", f"/v1/chatkit/threads/{t['id']}", {"title": "x"}),
        ("POST", f"/v1/chatkit/threads/{t['id']}/items", {"items": [said("x")]}),
        ("DELETE", f"/v1/chatkit/threads/{t['id']}/items/cthi_x", None),
    ]
    for method, path, body in targets:
        with server.http(beta=True) as http:
            assert_envelope(http.request(method, path, json=body), 401)
        with server.http(project, beta=False) as http:
            assert_envelope(http.request(method, path, json=body), 400, param="OpenAI-Beta")
    with server.http(beta=True) as http:
        assert_envelope(http.get("/v1/chatkit/threads", params={"q": "x"}), 401)
    with server.http(project) as http:
        r = http.post("/v1/chatkit/threads", json={"user": "u", "title": "x" * (2 << 20)})
        assert_envelope(r, 413, code="request_too_large")


def test_unicode_in_every_field_round_trips(server: Server, project: str) -> None:
    client = server.client(project)
    user = f"用户 🙂 {uuid.uuid4().hex[:6]}"
    t = post(
        client,
        "/chatkit/threads",
        {
            "user": user,
            "title": 'Ünïcødé — \u2028 "quotes" \\',
            "metadata": {"ключ": "значение 🙂"},
            "items": [said("Grüße aus Zürich 🙂", "user")],
        },
        include="metadata",
    )
    assert t["title"] == 'Ünïcødé — \u2028 "quotes" \\' and t["user"] == user
    assert t["metadata"] == {"ключ": "значение 🙂"}
    assert [
        x.id for x in client.beta.chatkit.threads.list(user=user, extra_query={"q": "grüße"})
    ] == [t["id"]]
    assert [x.id for x in client.beta.chatkit.threads.list(extra_query={"q": "ÜNÏCØDÉ"})] == [
        t["id"]
    ]
