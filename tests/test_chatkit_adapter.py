"""threadkit's calls into ``chatkit.server.ChatKitServer``'s private methods, all in
threadkit/protocol/chatkit_adapter.py, checked against the installed openai-chatkit:
each method is there, takes the same parameters and behaves as relied on, on a real
request against a real store. A release that changes one fails here, naming it."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.types import (
    AssistantMessageItem,
    ChatKitReq,
    FileAttachment,
    HiddenContextItem,
    InferenceOptions,
    Page,
    Thread,
    ThreadCreatedEvent,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)
from pydantic import TypeAdapter

import threadkit
from tests.conftest import with_store
from threadkit import ids
from threadkit.attachments.local import LocalFileStorage
from threadkit.protocol import chatkit_adapter
from threadkit.protocol.server import ThreadkitServer
from threadkit.services.attachments import AttachmentService
from threadkit.services.chat_threads import ChatThreads
from threadkit.services.feedback import FeedbackService
from threadkit.stores import ThreadStore
from threadkit.workflows import ChatContext
from threadkit.workflows.echo import EchoWorkflow

VERSION = importlib.metadata.version("openai-chatkit")
ADAPTER = Path(chatkit_adapter.__file__).resolve()
NOW = datetime(2024, 4, 5, 12, 0, tzinfo=UTC)
_REQUEST: TypeAdapter[Any] = TypeAdapter(ChatKitReq)
_EVENT: TypeAdapter[Any] = TypeAdapter(ThreadStreamEvent)


def broken(name: str, what: str) -> str:
    return (
        f"openai-chatkit {VERSION}: ChatKitServer.{name} {what}. threadkit calls it in "
        "threadkit/protocol/chatkit_adapter.py: adapt the adapter to this release."
    )


def plain_function(value: Any) -> bool:
    return inspect.isfunction(value) and not (
        inspect.iscoroutinefunction(value) or inspect.isasyncgenfunction(value)
    )


#: what kind of function each private method is: the adapter awaits, iterates or calls it
KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "_process_streaming": ("an async generator function", inspect.isasyncgenfunction),
    "_process_non_streaming": ("a coroutine function", inspect.iscoroutinefunction),
    "_serialize": ("a plain function", plain_function),
    "_to_thread_response": ("a plain function", plain_function),
}


def private_names() -> set[str]:
    """The private methods ``ChatKitServer`` defines itself (no dunders, no ABC state)."""
    return {
        name
        for name, value in vars(ChatKitServer).items()
        if name.startswith("_") and not name.startswith("__") and callable(value)
    }


# --- present, with the same parameters --------------------------------------------------


def test_every_private_method_the_adapter_uses_is_listed_and_checked() -> None:
    used = set(re.findall(r"\.(_[a-z]\w*)\(", ADAPTER.read_text()))
    assert used == set(chatkit_adapter.PRIVATE_METHODS), (
        f"chatkit_adapter.py uses {sorted(used)} but PRIVATE_METHODS lists "
        f"{sorted(chatkit_adapter.PRIVATE_METHODS)}"
    )
    assert set(KINDS) == set(chatkit_adapter.PRIVATE_METHODS)


@pytest.mark.parametrize("name", sorted(chatkit_adapter.PRIVATE_METHODS))
def test_the_private_methods_keep_their_signatures(name: str) -> None:
    method = vars(ChatKitServer).get(name)
    assert method is not None, broken(name, "no longer exists")
    described, is_kind = KINDS[name]
    assert is_kind(method), broken(name, f"is no longer {described}")
    parameters = inspect.signature(method).parameters
    expected = chatkit_adapter.PRIVATE_METHODS[name]
    assert tuple(parameters) == expected, broken(
        name, f"now takes {tuple(parameters)} instead of {expected}"
    )
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(p.kind == positional for p in parameters.values()), broken(
        name, f"no longer takes {expected} positionally: {inspect.signature(method)}"
    )


def test_no_other_module_uses_chatkit_server_private_names() -> None:
    root = Path(threadkit.__file__).resolve().parent
    names = private_names()
    offenders = [
        f"{path.relative_to(root.parent)}: {name}"
        for path in sorted(root.rglob("*.py"))
        if path.resolve() != ADAPTER
        for name in sorted(names)
        if re.search(rf"\b{name}\b", path.read_text())
    ]
    assert not offenders, (
        "Only threadkit/protocol/chatkit_adapter.py may use (or override) ChatKitServer's "
        f"private names; found: {offenders}"
    )


# --- behaving as relied on ----------------------------------------------------------------


def user_message(thread_id: str) -> UserMessageItem:
    return UserMessageItem(
        id=ids.new_item_id(),
        thread_id=thread_id,
        created_at=NOW,
        content=[UserMessageTextContent(text="earlier")],
        inference_options=InferenceOptions(),
    )


def hidden(thread_id: str) -> HiddenContextItem:
    return HiddenContextItem(
        id=ids.new_item_id(), thread_id=thread_id, created_at=NOW, content="for the model"
    )


def on_server(tmp_path: Path, work: Callable[[ThreadkitServer, ChatContext], Any]) -> None:
    async def go(store: ThreadStore) -> None:
        files = LocalFileStorage(tmp_path / "files")
        attachments = AttachmentService(store, files)
        server = ThreadkitServer(store, ChatThreads(store), attachments, FeedbackService(store))
        context = ChatContext(
            project="adapter",
            user_id="alice",
            workflow=EchoWorkflow("echo"),
            store=store,
            files=files,
            base_url="http://threadkit.test",
        )
        await work(server, context)

    with_store(f"sqlite:///{tmp_path / 'threadkit.db'}", go)


def test_process_streams_a_new_thread_and_stores_it(tmp_path: Path) -> None:
    async def work(server: ThreadkitServer, context: ChatContext) -> None:
        req = _REQUEST.validate_python(
            {
                "type": "threads.create",
                "params": {
                    "input": {
                        "content": [{"type": "input_text", "text": "hello adapter"}],
                        "attachments": [],
                        "inference_options": {},
                    }
                },
            }
        )
        result = await chatkit_adapter.process(server, req, context)
        assert isinstance(result, StreamingResult), broken(
            "_process_streaming", "is no longer wrapped as a StreamingResult"
        )
        frames = [frame async for frame in result]
        for frame in frames:
            assert frame.startswith(b"data: ") and frame.endswith(b"\n\n"), broken(
                "_process_streaming", f"no longer yields SSE frames: {frame[:80]!r}"
            )
        events = [_EVENT.validate_json(frame[6:-2]) for frame in frames]
        assert isinstance(events[0], ThreadCreatedEvent), broken(
            "_process_streaming", f"no longer starts with thread.created: {events[0]}"
        )
        done = [e.item for e in events if isinstance(e, ThreadItemDoneEvent)]
        answers = [i for i in done if isinstance(i, AssistantMessageItem)]
        assert [c.text for a in answers for c in a.content] == ["hello adapter"], broken(
            "_process_streaming", f"no longer streams the workflow's answer: {done}"
        )
        thread_id = events[0].thread.id
        stored = await context.store.load_thread_items(thread_id, None, 10, "asc", context)
        assert [type(i) for i in stored.data] == [UserMessageItem, AssistantMessageItem], broken(
            "_process_streaming", f"no longer stores the turn: {stored.data}"
        )

    on_server(tmp_path, work)


def test_process_answers_a_read_without_hidden_items(tmp_path: Path) -> None:
    async def work(server: ThreadkitServer, context: ChatContext) -> None:
        thread_id = ids.new_thread_id()
        await context.store.save_thread(
            ThreadMetadata(id=thread_id, created_at=NOW, title="kept"), context
        )
        message = user_message(thread_id)
        await context.store.add_thread_item(thread_id, message, context)
        await context.store.add_thread_item(thread_id, hidden(thread_id), context)
        req = _REQUEST.validate_python(
            {"type": "threads.get_by_id", "params": {"thread_id": thread_id}}
        )
        result = await chatkit_adapter.process(server, req, context)
        assert isinstance(result, NonStreamingResult), broken(
            "_process_non_streaming", "is no longer wrapped as a NonStreamingResult"
        )
        assert isinstance(result.json, bytes), broken(
            "_process_non_streaming", f"no longer returns bytes: {type(result.json)}"
        )
        thread = Thread.model_validate_json(result.json)
        assert (thread.id, thread.title) == (thread_id, "kept"), broken(
            "_process_non_streaming", f"answers another thread: {thread}"
        )
        assert [i.id for i in thread.items.data] == [message.id], broken(
            "_process_non_streaming", f"no longer leaves out hidden items: {thread.items.data}"
        )

        delete = _REQUEST.validate_python(
            {"type": "threads.delete", "params": {"thread_id": thread_id}}
        )
        deleted = await chatkit_adapter.process(server, delete, context)
        assert isinstance(deleted, NonStreamingResult) and deleted.json == b"{}", broken(
            "_process_non_streaming", "no longer answers threads.delete with {}"
        )
        assert await context.store.get_thread(context.project, thread_id) is None, broken(
            "_process_non_streaming", "no longer deletes the thread"
        )

    on_server(tmp_path, work)


def test_serialize_drops_none_fields_and_attachment_metadata(tmp_path: Path) -> None:
    async def work(server: ThreadkitServer, context: ChatContext) -> None:
        attachment = FileAttachment(
            id="atc_1", name="notes.txt", mime_type="text/plain", metadata={"token": "secret"}
        )
        data = orjson.loads(chatkit_adapter.serialize(server, attachment))
        assert data == {
            "id": "atc_1",
            "name": "notes.txt",
            "mime_type": "text/plain",
            "type": "file",
        }, broken("_serialize", f"serializes an attachment differently: {data}")
        page = orjson.loads(chatkit_adapter.serialize(server, Page(data=[], has_more=False)))
        assert page == {"data": [], "has_more": False}, broken(
            "_serialize", f"serializes a page differently: {page}"
        )

    on_server(tmp_path, work)


def test_thread_response_leaves_out_hidden_items(tmp_path: Path) -> None:
    async def work(server: ThreadkitServer, context: ChatContext) -> None:
        message = user_message("cthr_1")
        thread = Thread(
            id="cthr_1",
            title="t",
            created_at=NOW,
            items=Page(data=[message, hidden("cthr_1")], has_more=False),
            metadata={"kept": "server-side"},
        )
        response = chatkit_adapter.thread_response(server, thread)
        assert isinstance(response, Thread), broken("_to_thread_response", "returns no Thread")
        assert [i.id for i in response.items.data] == [message.id], broken(
            "_to_thread_response", f"no longer leaves out hidden items: {response.items.data}"
        )
        assert (response.id, response.title, response.metadata) == ("cthr_1", "t", {}), broken(
            "_to_thread_response", f"no longer copies what it did: {response}"
        )
        bare = chatkit_adapter.thread_response(server, ThreadMetadata(id="cthr_2", created_at=NOW))
        assert (bare.id, bare.items.data) == ("cthr_2", []), broken(
            "_to_thread_response", f"answers thread metadata differently: {bare}"
        )

    on_server(tmp_path, work)
