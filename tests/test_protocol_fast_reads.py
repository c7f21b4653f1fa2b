"""The fast protocol reads (``threadkit.protocol.reads``) answer exactly what the generic
``ChatKitServer`` path answers: two servers on one database, one with
``THREADKIT_PROTOCOL_FAST_READS=0``, asked the same ``threads.get_by_id``, ``items.list``
and ``threads.list`` requests, over every item type and widget kind the tests know, in
the protocol shape and in the REST shape, and over the paging edge cases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    ClosedStatus,
    CustomSummary,
    CustomTask,
    DurationSummary,
    EndOfTurnItem,
    EntitySource,
    FileAttachment,
    FileSource,
    FileTask,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    ImageTask,
    InferenceOptions,
    LockedStatus,
    SDKHiddenContextItem,
    SearchTask,
    StructuredInputAnswer,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    TaskItem,
    ThoughtTask,
    ThreadItem,
    ThreadMetadata,
    ToolChoice,
    URLSource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import WidgetRoot
from pydantic import TypeAdapter

from tests.conftest import Server, start_server, stop_server, with_store
from tests.helpers import all_item_types, thread
from threadkit.protocol import wire
from threadkit.protocol.reads import FastReads
from threadkit.services.transfer import Importer
from threadkit.stores import ThreadStore
from threadkit.stores.records import PageQuery
from threadkit.workflows import ChatContext
from threadkit.workflows.config import load_registry

_WIDGET: TypeAdapter[Any] = TypeAdapter(WidgetRoot)
WHEN = datetime(2024, 4, 5, 19, 33, 20, 123456, tzinfo=UTC)

#: a Card with every component the widget tests know, a ListView and a Basic root
WIDGETS: list[dict[str, Any]] = [
    {
        "type": "Card",
        "size": "md",
        "children": [
            {"type": "Title", "value": "Order", "size": "lg"},
            {"type": "Text", "value": "Two items", "streaming": False, "italic": True},
            {"type": "Caption", "value": "shipped"},
            {"type": "Badge", "label": "new", "color": "info"},
            {"type": "Markdown", "value": "**bold**"},
            {"type": "Box", "direction": "row", "children": [{"type": "Spacer"}]},
            {
                "type": "Row",
                "children": [
                    {"type": "Icon", "name": "check"},
                    {"type": "Image", "src": "https://img.example/a.png", "alt": "a"},
                ],
            },
            {"type": "Col", "children": [{"type": "Divider"}]},
            {
                "type": "Form",
                "onSubmitAction": {"type": "submit", "payload": {"k": None}},
                "children": [
                    {"type": "Label", "value": "Name", "fieldName": "name"},
                    {"type": "Input", "name": "name", "placeholder": "you"},
                    {"type": "Textarea", "name": "notes"},
                    {"type": "Select", "name": "size", "options": [{"value": "s", "label": "S"}]},
                    {"type": "DatePicker", "name": "when"},
                    {"type": "Checkbox", "name": "ok", "label": "OK"},
                    {
                        "type": "RadioGroup",
                        "name": "pick",
                        "options": [{"value": "a", "label": "A"}],
                    },
                    {
                        "type": "Button",
                        "label": "Send",
                        "submit": True,
                        "onClickAction": {"type": "send", "payload": {"children": None}},
                    },
                ],
            },
            {"type": "Transition", "children": {"type": "Text", "value": "x"}},
            {
                "type": "Chart",
                "data": [{"m": "Jan", "v": 1}],
                "series": [{"type": "bar", "dataKey": "v"}],
                "xAxis": "m",
            },
        ],
    },
    {
        "type": "ListView",
        "children": [
            {
                "type": "ListViewItem",
                "children": [{"type": "Text", "value": "i"}],
                "onClickAction": {"type": "open"},
            }
        ],
    },
    {"type": "Basic", "children": [{"type": "Text", "value": "b"}]},
]


def protocol_items(thread_id: str) -> list[ThreadItem]:
    """One or more items of every protocol item type, oldest first (hidden ones too)."""
    n = iter(range(1, 1000))

    def head() -> dict[str, Any]:
        return {
            "id": f"cthi_{uuid.uuid4().hex}",
            "thread_id": thread_id,
            "created_at": datetime(2024, 4, 5, 19, 33, next(n), 5 * next(n), tzinfo=UTC),
        }

    def naive_head() -> dict[str, Any]:  # as ChatKitServer makes them
        return {**head(), "created_at": datetime(2024, 4, 5, 20, 0, next(n), 123000)}

    entity = EntitySource(
        title="Ada", id="ent_1", icon="user", data={"x": None, "y": [1, None]}, interactive=True
    )
    return [
        UserMessageItem(
            **head(),
            content=[
                UserMessageTextContent(text="hello null"),
                UserMessageTagContent(id="t1", text="@ada", data={"who": None}, group="people"),
            ],
            attachments=[
                FileAttachment(
                    id="cfile_1", name="a.pdf", mime_type="application/pdf", metadata={"k": 1}
                ),
                ImageAttachment(
                    id="cfile_2",
                    name="b.png",
                    mime_type="image/png",
                    preview_url="https://files.example/b.png",
                    thread_id=thread_id,
                ),
            ],
            quoted_text="quoted",
            inference_options=InferenceOptions(tool_choice=ToolChoice(id="search"), model="m"),
        ),
        UserMessageItem(
            **naive_head(),
            content=[UserMessageTextContent(text="plain")],
            inference_options=InferenceOptions(),
        ),
        AssistantMessageItem(
            **head(),
            content=[
                AssistantMessageContent(
                    text="with sources",
                    annotations=[
                        Annotation(
                            source=URLSource(
                                title="u", url="https://example.com", attribution="ex"
                            ),
                            index=3,
                        ),
                        Annotation(source=FileSource(title="f", filename="f.txt")),
                        Annotation(source=entity),
                    ],
                ),
                AssistantMessageContent(text="second part"),
            ],
        ),
        AssistantMessageItem(**naive_head(), content=[]),
        AssistantMessageItem(**head(), content=[AssistantMessageContent(text="no nulls")]),
        ClientToolCallItem(
            **head(), call_id="c1", name="lookup", arguments={"a": None, "b": [1, None]}
        ),
        ClientToolCallItem(
            **head(),
            status="completed",
            call_id="c2",
            name="lookup",
            arguments={},
            output={"found": None},
        ),
        *(
            WidgetItem(**head(), widget=_WIDGET.validate_python(w), copy_text=copy)
            for w, copy in zip(WIDGETS, ["copy", None, None], strict=True)
        ),
        GeneratedImageItem(**head(), image=GeneratedImage(id="img", url="https://i.example/1")),
        GeneratedImageItem(**head()),
        StructuredInputItem(
            **head(),
            status="answered",
            inputs=[
                StructuredInputMultipleChoice(
                    id="q1",
                    question="Which?",
                    options=[StructuredInputMultipleChoiceOption(value="a")],
                    answer=StructuredInputAnswer(values=["a"]),
                ),
                StructuredInputFreeform(id="q2", question="Why?", description="say"),
            ],
        ),
        TaskItem(**head(), task=CustomTask(title="custom", icon="search", content=None)),
        TaskItem(
            **head(),
            task=SearchTask(
                title_query="q", queries=["a", "b"], sources=[URLSource(title="s", url="u")]
            ),
        ),
        TaskItem(**head(), task=ThoughtTask(content="thinking", status_indicator="loading")),
        TaskItem(**head(), task=FileTask(sources=[FileSource(title="t", filename="x")])),
        TaskItem(**head(), task=ImageTask(title="img")),
        WorkflowItem(
            **head(),
            workflow=Workflow(
                type="custom", tasks=[CustomTask(title="x"), ThoughtTask(content="y")]
            ),
        ),
        WorkflowItem(
            **head(),
            workflow=Workflow(
                type="reasoning",
                tasks=[],
                summary=CustomSummary(title="done", icon="check"),
                expanded=True,
            ),
        ),
        WorkflowItem(
            **head(),
            workflow=Workflow(type="reasoning", tasks=[], summary=DurationSummary(duration=3)),
        ),
        HiddenContextItem(**head(), content={"secret": None}),
        SDKHiddenContextItem(**head(), content="sdk"),
        EndOfTurnItem(**head()),
    ]


def rest_items(thread_id: str) -> list[dict[str, Any]]:
    """Every REST item type, and the REST values the protocol cannot hold as they are."""
    user, assistant, widget, call, task, group = all_item_types(thread_id)
    image = {
        "type": "image",
        "id": "cfile_9",
        "name": "p.png",
        "mime_type": "image/png",
        "preview_url": "https://files.example/p.png",
    }
    stamp = iter(range(1_712_345_700, 1_712_349_999))

    def again(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
        return item | {"id": f"cthi_{uuid.uuid4().hex}", "created_at": next(stamp), **changes}

    return [
        user,
        assistant,
        widget,
        call,
        task,
        group,
        again(user, attachments=[image], inference_options={"tool_choice": None, "model": None}),
        again(user, content=[{"type": "input_text", "text": "only"}], attachments=[]),
        again(assistant, content=[{"type": "output_text", "text": "bare", "annotations": []}]),
        again(widget, widget="just some text"),
        again(widget, widget=orjson.dumps(WIDGETS[1]).decode()),
        again(call, arguments="not json", status="completed", output="42"),
        again(call, arguments="[1, 2]"),
        again(task, task_type="custom", summary=None),
        again(group, tasks=[]),
    ]


# --- the two servers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(
    database: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """``(fast, generic)``: the same database behind both settings."""
    backend, url = database
    folder = tmp_path_factory.mktemp("fast-reads")
    fast = start_server(url, backend, folder)
    try:
        generic = start_server(url, backend, folder, env={"THREADKIT_PROTOCOL_FAST_READS": "0"})
    except BaseException:
        stop_server(fast)
        raise
    yield fast, generic
    stop_server(generic)
    stop_server(fast)


class Pair:
    """Asks both servers the same thing and checks that they answer alike."""

    def __init__(self, servers: tuple[Server, Server], project: str) -> None:
        self.servers = servers
        self.project = project
        self.clients: dict[str, tuple[httpx.Client, httpx.Client]] = {}

    def _clients(self, user: str) -> tuple[httpx.Client, httpx.Client]:
        if user not in self.clients:
            self.clients[user] = tuple(  # type: ignore[assignment]
                httpx.Client(
                    base_url=s.url,
                    headers={
                        "Authorization": f"Bearer {s.key(self.project)}",
                        "X-ChatKit-User": user,
                    },
                    timeout=30,
                )
                for s in self.servers
            )
        return self.clients[user]

    def same(self, user: str, body: dict[str, Any]) -> tuple[int, Any]:
        """``(status, JSON)`` of the answer, asserting both servers gave it."""
        fast, generic = (
            c.post("/chatkit", content=orjson.dumps(body)) for c in self._clients(user)
        )
        assert (fast.status_code, fast.json()) == (generic.status_code, generic.json()), body
        assert fast.headers["content-type"] == generic.headers["content-type"]
        return fast.status_code, fast.json()

    def close(self) -> None:
        for pair in self.clients.values():
            for client in pair:
                client.close()


@pytest.fixture
def both(pair: tuple[Server, Server], project: str) -> Iterator[Pair]:
    asking = Pair(pair, project)
    yield asking
    asking.close()


def _store_threads(
    db: str, project: str, user: str, threads: list[tuple[ThreadMetadata, list[ThreadItem]]]
) -> None:
    caller = SimpleNamespace(project=project, user_id=user)

    async def work(store: ThreadStore) -> None:
        for meta, items in threads:
            await store.save_thread(meta, caller)
            for item in items:
                await store.add_thread_item(meta.id, item, caller)

    with_store(db, work)


def _new_thread(**fields: Any) -> ThreadMetadata:
    return ThreadMetadata(id=f"cthr_{uuid.uuid4().hex}", created_at=WHEN, **fields)


def _seeded(both: Pair) -> dict[str, Any]:
    """Threads of ``ada`` (protocol and REST items, every thread status) and one of
    ``bob``; returns their ids."""
    db = both.servers[0].db
    full = _new_thread(title="Everything", allowed_image_domains=["img.example"])
    locked = _new_thread(status=LockedStatus(reason="busy"), metadata={"k": "v"})
    closed = _new_thread(title="Closed", status=ClosedStatus())
    naive = ThreadMetadata(id=f"cthr_{uuid.uuid4().hex}", created_at=datetime(2024, 5, 1, 8))
    _store_threads(
        db,
        both.project,
        "ada",
        [(full, protocol_items(full.id)), (locked, []), (closed, []), (naive, [])],
    )
    bobs = _new_thread(title="Bob's")
    _store_threads(db, both.project, "bob", [(bobs, protocol_items(bobs.id)[:3])])
    rest = thread("ada", title=None, status={"type": "closed", "reason": "done"})
    rest_open = thread("ada", created_at=1_712_345_000)
    both.servers[0].seed(
        both.project, [rest, rest_open, *rest_items(rest["id"]), *all_item_types(rest_open["id"])]
    )
    return {
        "full": full.id,
        "rest": rest["id"],
        "others": [locked.id, closed.id, naive.id, rest_open["id"]],
        "bob": bobs.id,
    }


def _items(thread_id: str, **params: Any) -> dict[str, Any]:
    return {"type": "items.list", "params": {"thread_id": thread_id, **params}}


def _ids(page: dict[str, Any]) -> list[str]:
    return [entry["id"] for entry in page["data"]]


# --- the answers --------------------------------------------------------------------


def test_threads_by_id_of_every_item_type_and_status(both: Pair) -> None:
    ids = _seeded(both)
    for thread_id in [ids["full"], ids["rest"], *ids["others"]]:
        status, body = both.same(
            "ada", {"type": "threads.get_by_id", "params": {"thread_id": thread_id}}
        )
        assert status == 200 and body["id"] == thread_id
    _, full = both.same("ada", {"type": "threads.get_by_id", "params": {"thread_id": ids["full"]}})
    kinds = [item["type"] for item in full["items"]["data"]]
    assert "hidden_context_item" not in kinds and "sdk_hidden_context" not in kinds
    assert {"user_message", "assistant_message", "widget", "task", "workflow"} <= set(kinds)
    assert full["items"]["has_more"] is True  # more than a default page
    for missing in ["cthr_missing", ids["bob"]]:
        status, _ = both.same(
            "ada", {"type": "threads.get_by_id", "params": {"thread_id": missing}}
        )
        assert status == 404


def test_an_item_changed_after_it_was_read_is_answered_as_it_is_now(both: Pair) -> None:
    """The fast path keeps the answers it gave by stored JSON: an item saved again (a
    streamed message finished, a widget updated) must never come back as it was."""
    meta = _new_thread(title="changing")
    first = AssistantMessageItem(
        id=f"cthi_{uuid.uuid4().hex}",
        thread_id=meta.id,
        created_at=WHEN,
        content=[AssistantMessageContent(text="draft")],
    )
    db = both.servers[0].db
    _store_threads(db, both.project, "ada", [(meta, [first])])
    _, before = both.same("ada", _items(meta.id))
    assert [c["text"] for c in before["data"][0]["content"]] == ["draft"]
    final = first.model_copy(update={"content": [AssistantMessageContent(text="final")]})
    caller = SimpleNamespace(project=both.project, user_id="ada")

    async def save(store: ThreadStore) -> None:
        await store.save_item(meta.id, final, caller)

    with_store(db, save)
    for _ in range(2):  # the second time from what the first one kept
        _, after = both.same("ada", _items(meta.id))
        assert [c["text"] for c in after["data"][0]["content"]] == ["final"]


def test_a_thread_changed_after_it_was_read_is_answered_as_it_is_now(both: Pair) -> None:
    """The fast path keeps thread heads by stored columns: a thread renamed, locked or
    given new metadata must never come back as it was, in ``threads.get_by_id`` or
    ``threads.list``."""
    user = f"u_{uuid.uuid4().hex[:8]}"
    meta = _new_thread(title="before")
    db = both.servers[0].db
    _store_threads(db, both.project, user, [(meta, [])])
    get = {"type": "threads.get_by_id", "params": {"thread_id": meta.id}}
    listing = {"type": "threads.list", "params": {}}
    _, first = both.same(user, get)
    _, listed = both.same(user, listing)
    assert first["title"] == "before" and listed["data"][0]["title"] == "before"
    changed = meta.model_copy(
        update={
            "title": "after",
            "status": LockedStatus(reason="r"),
            "metadata": {"k": "v"},
            "allowed_image_domains": ["img.example"],
        }
    )
    caller = SimpleNamespace(project=both.project, user_id=user)

    async def save(store: ThreadStore) -> None:
        await store.save_thread(changed, caller)

    with_store(db, save)
    for _ in range(2):  # the second time from what the first one kept
        _, now = both.same(user, get)
        _, now_listed = both.same(user, listing)
        assert (now["title"], now["status"]) == ("after", {"type": "locked", "reason": "r"})
        assert now["allowed_image_domains"] == ["img.example"]
        assert now_listed["data"][0]["title"] == "after"


def test_items_pages_in_both_orders_from_every_cursor(both: Pair) -> None:
    ids = _seeded(both)
    for thread_id in (ids["full"], ids["rest"]):
        for order in ("asc", "desc"):
            _, everything = both.same("ada", _items(thread_id, order=order, limit=100))
            cursors = [None, *_ids(everything)]
            for after in cursors:
                for limit in (None, 1, 2, 3, 20):
                    status, page = both.same(
                        "ada", _items(thread_id, order=order, limit=limit, after=after)
                    )
                    assert status == 200
                    assert page["has_more"] == ("after" in page)
        status, _ = both.same("ada", _items(thread_id, after="cthi_unknown"))
        assert status == 404


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"limit": 0},
        {"limit": 101},
        {"limit": 1000},
        {"limit": -1},
        {"limit": "5"},
        {"limit": True},
        {"limit": 2.0},
        {"order": "sideways"},
        {"order": None},
        {"after": 5},
        {"after": None, "limit": None},
        {"unknown": 1},
    ],
)
def test_items_lists_with_unusual_parameters(both: Pair, params: dict[str, Any]) -> None:
    ids = _seeded(both)
    both.same("ada", _items(ids["full"], **params))
    both.same("ada", _items(ids["rest"], **params))
    both.same("ada", {"type": "threads.list", "params": params})


@pytest.mark.parametrize(
    "body",
    [
        {"type": "items.list", "params": {}},
        {"type": "items.list", "params": {"thread_id": 7}},
        {"type": "items.list"},
        {"type": "items.list", "params": None},
        {"type": "threads.get_by_id", "params": {"thread_id": None}},
        {"type": "threads.get_by_id", "params": {"thread_id": "x"}, "metadata": {"a": None}},
        {"type": "threads.get_by_id", "params": {"thread_id": "x"}, "metadata": "no"},
        {"type": "threads.get_by_id", "params": {"thread_id": "x"}, "extra": 1},
        {"type": "threads.list"},
        {"type": "threads.list", "params": {}, "metadata": {}},
    ],
)
def test_malformed_reads_are_refused_alike(both: Pair, body: dict[str, Any]) -> None:
    both.same("ada", body)


def test_items_of_another_users_or_a_missing_thread(both: Pair) -> None:
    ids = _seeded(both)
    for user, thread_id in [("ada", ids["bob"]), ("bob", ids["full"]), ("ada", "cthr_none")]:
        status, _ = both.same(user, _items(thread_id))
        assert status == 404
    status, page = both.same("bob", _items(ids["bob"]))
    assert status == 200 and len(page["data"]) == 3


def test_thread_lists_from_every_cursor(both: Pair) -> None:
    ids = _seeded(both)
    for order in ("asc", "desc"):
        _, everything = both.same("ada", {"type": "threads.list", "params": {"order": order}})
        assert len(everything["data"]) == 6 and not everything["has_more"]
        for after in [None, *_ids(everything)]:
            for limit in (None, 1, 2, 5):
                status, _ = both.same(
                    "ada",
                    {
                        "type": "threads.list",
                        "params": {"order": order, "limit": limit, "after": after},
                    },
                )
                assert status == 200
    for after in ["cthr_unknown", ids["bob"]]:
        status, _ = both.same("ada", {"type": "threads.list", "params": {"after": after}})
        assert status == 404
    status, page = both.same("carol", {"type": "threads.list", "params": {}})
    assert (status, page["data"]) == (200, [])


# --- the fast conversion itself (not its fallback) -----------------------------------


def test_items_are_converted_without_the_models(tmp_path: Path) -> None:
    """Every stored item but widgets, REST image attachments and workflow summaries is
    converted from its JSON alone, and the result is what the models give."""
    url = f"sqlite:///{tmp_path / 'items.db'}"
    full = _new_thread(title="t")
    _store_threads(url, "p", "ada", [(full, protocol_items(full.id))])
    rest = thread("ada")

    async def rows(store: ThreadStore) -> list[Any]:
        await Importer(store, "p").run([orjson.dumps(o) for o in [rest, *rest_items(rest["id"])]])
        found = []
        for thread_id in (full.id, rest["id"]):
            page = await store.list_items(
                "p", thread_id, PageQuery(limit=100, order="asc"), rest_only=False
            )
            found.extend(page.rows)
        return found

    assert wire.MESSAGES_FINAL  # the hand-built REST messages match the installed models
    converted = 0
    for row in with_store(url, rows):
        data = orjson.loads(row.payload)
        through_models = row.to_protocol()
        expected = (
            None
            if through_models.type in wire.HIDDEN_TYPES
            else orjson.loads(through_models.model_dump_json(**wire._SERIALIZE))
        )
        assert (lambda b: b and orjson.loads(b))(wire.item_json(row)) == (expected or None)
        widget = data.get("type") in ("widget", "chatkit.widget")
        rest_image = any(a.get("type") == "image" for a in data.get("attachments", [])) and (
            row.shape == "rest"
        )
        summary = (data.get("workflow") or {}).get("summary") is not None  # an untagged union
        if widget or rest_image or summary:
            with pytest.raises(wire.Unusual):
                wire.converted_item_json(row)
            continue
        answer = wire.converted_item_json(row)
        assert (answer and orjson.loads(answer)) == (expected or None), data
        converted += 1
    assert converted >= 30


def test_the_fast_path_answers_plain_reads(tmp_path: Path) -> None:
    """Plain reads are answered by ``FastReads`` itself; a missing thread is left to the
    generic path (``None``)."""
    url = f"sqlite:///{tmp_path / 'reads.db'}"
    full = _new_thread(title="t")
    _store_threads(url, "p", "ada", [(full, protocol_items(full.id))])

    async def answers(store: ThreadStore) -> list[bytes | None]:
        context = ChatContext(
            project="p",
            user_id="ada",
            workflow=load_registry(None)["echo"],
            store=store,
            files=None,  # type: ignore[arg-type]
            base_url="http://x",
        )
        reads = FastReads(store)
        bodies = [
            {"type": "threads.get_by_id", "params": {"thread_id": full.id}},
            _items(full.id, limit=5, order="asc"),
            {"type": "threads.list", "params": {"limit": 3}},
            {"type": "threads.get_by_id", "params": {"thread_id": "cthr_missing"}},
        ]
        return [await reads.answer(body, context) for body in bodies]

    thread_body, items, threads, missing = with_store(url, answers)
    assert thread_body is not None and orjson.loads(thread_body)["id"] == full.id
    assert items is not None and len(orjson.loads(items)["data"]) == 5
    assert threads is not None and _ids(orjson.loads(threads)) == [full.id]
    assert missing is None
