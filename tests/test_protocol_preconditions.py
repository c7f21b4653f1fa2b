"""The protocol's preconditions without HTTP: every refusal and an accepted request of
each checked type, against a real store on each backend, seeded through the store's
own protocol methods and the attachment service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ChatKitReq,
    ClientToolCallItem,
    ClosedStatus,
    InferenceOptions,
    LockedStatus,
    StructuredInputFreeform,
    StructuredInputItem,
    ThreadItem,
    ThreadMetadata,
    ThreadStatus,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)
from chatkit.widgets import WidgetRoot
from pydantic import TypeAdapter

from tests.conftest import with_store
from threadkit import ids
from threadkit.attachments.local import LocalFileStorage
from threadkit.protocol.preconditions import Preconditions
from threadkit.services.attachments import AttachmentService
from threadkit.services.chat_threads import ChatThreads
from threadkit.services.errors import Conflict, InvalidRequest, NotFound, ServiceError
from threadkit.stores import ThreadStore
from threadkit.workflows import ChatContext, Workflow
from threadkit.workflows.echo import EchoWorkflow

Database = tuple[str, str]
_REQUEST: TypeAdapter[Any] = TypeAdapter(ChatKitReq)
_WIDGET: TypeAdapter[Any] = TypeAdapter(WidgetRoot)
NOW = datetime(2024, 4, 5, 12, 0, tzinfo=UTC)


class Capable(EchoWorkflow):
    """A workflow that says it has actions, synchronous actions and transcription."""

    supports_actions = True
    supports_sync_actions = True
    supports_transcription = True


def request(type_: str, **params: Any) -> Any:
    return _REQUEST.validate_python({"type": type_, "params": params})


def user_input(attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": "hi"}],
        "attachments": attachments or [],
        "inference_options": {},
    }


def user_message(thread_id: str) -> UserMessageItem:
    return UserMessageItem(
        id=ids.new_item_id(),
        thread_id=thread_id,
        created_at=NOW,
        content=[UserMessageTextContent(text="hi")],
        inference_options=InferenceOptions(),
    )


def assistant_message(thread_id: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=ids.new_item_id(),
        thread_id=thread_id,
        created_at=NOW,
        content=[AssistantMessageContent(text="hello")],
    )


def tool_call(thread_id: str, status: str) -> ClientToolCallItem:
    return ClientToolCallItem(
        id=ids.new_item_id(),
        thread_id=thread_id,
        created_at=NOW,
        status=status,  # type: ignore[arg-type]
        call_id="call_1",
        name="get_location",
        arguments={},
    )


def structured_input(thread_id: str, status: str) -> StructuredInputItem:
    return StructuredInputItem(
        id=ids.new_item_id(),
        thread_id=thread_id,
        created_at=NOW,
        status=status,  # type: ignore[arg-type]
        inputs=[StructuredInputFreeform(id="q1", question="Why?")],
    )


def widget(thread_id: str) -> WidgetItem:
    root = _WIDGET.validate_python({"type": "Card", "children": [{"type": "Text", "value": "v"}]})
    return WidgetItem(id=ids.new_item_id(), thread_id=thread_id, created_at=NOW, widget=root)


@dataclass
class World:
    """A project with two users, alice and bob, on a freshly opened store."""

    store: ThreadStore
    files: LocalFileStorage
    attachments: AttachmentService
    checks: Preconditions
    project: str

    def context(self, user: str = "alice", workflow: Workflow | None = None) -> ChatContext:
        return ChatContext(
            project=self.project,
            user_id=user,
            workflow=workflow or EchoWorkflow("echo"),
            store=self.store,
            files=self.files,
            base_url="http://threadkit.test",
        )

    async def thread(
        self, *items: Callable[[str], ThreadItem], user: str = "alice", status: Any = None
    ) -> str:
        """A new thread of ``user`` holding one item made by each of ``items``, in order."""
        thread_id = ids.new_thread_id()
        context = self.context(user)
        metadata = ThreadMetadata(id=thread_id, created_at=NOW)
        if status is not None:
            metadata.status = status
        await self.store.save_thread(metadata, context)
        for make in items:
            await self.store.add_thread_item(thread_id, make(thread_id), context)
        return thread_id

    async def item(
        self, thread_id: str, make: Callable[[str], ThreadItem], user: str = "alice"
    ) -> str:
        """Add an item made by ``make`` to ``user``'s thread; returns its id."""
        item = make(thread_id)
        await self.store.add_thread_item(thread_id, item, self.context(user))
        return item.id

    async def attachment(self, user: str = "alice", *, uploaded: bool = True) -> str:
        """An attachment of ``user``, its bytes uploaded or still awaited."""
        created = await self.attachments.create(
            project=self.project,
            user=user,
            session=None,
            limits={"enabled": True, "max_file_size": 1, "max_files": None},
            base_url="http://threadkit.test",
            name="notes.txt",
            size=2,
            mime_type="text/plain",
        )
        await self.store.save_attachment(created, self.context(user))
        if uploaded:
            assert created.upload_descriptor is not None
            token = parse_qs(urlsplit(str(created.upload_descriptor.url)).query)["token"][0]
            await self.attachments.receive(self.project, created.id, token, "text/plain", _hi())
        return created.id

    async def refusal(self, req: Any, context: ChatContext | None = None) -> ServiceError:
        with pytest.raises(ServiceError) as raised:
            await self.checks.check(req, context or self.context())
        return raised.value

    async def accepts(self, req: Any, context: ChatContext | None = None) -> None:
        await self.checks.check(req, context or self.context())


async def _hi() -> AsyncIterator[bytes]:
    yield b"hi"


def on(database: Database, tmp_path: Path, work: Callable[[World], Awaitable[None]]) -> None:
    async def go(store: ThreadStore) -> None:
        files = LocalFileStorage(tmp_path / "files")
        attachments = AttachmentService(store, files)
        checks = Preconditions(ChatThreads(store), attachments)
        project = f"proj_{uuid.uuid4().hex[:10]}"
        await work(World(store, files, attachments, checks, project))

    with_store(database[1], go)


def assert_error(
    error: ServiceError,
    kind: type[ServiceError],
    code: str | None,
    *,
    param: str | None = None,
    mentions: str = "",
) -> None:
    assert type(error) is kind, f"{type(error).__name__}: {error.message}"
    assert (error.code, error.param) == (code, param), error.message
    assert mentions in error.message


def locked() -> ThreadStatus:
    return LockedStatus(reason="moderation")


def closed() -> ThreadStatus:
    return ClosedStatus(reason="archived")


# --- threads --------------------------------------------------------------------------------


def test_a_missing_or_foreign_thread_is_not_found(database: Database, tmp_path: Path) -> None:
    async def work(w: World) -> None:
        bobs = await w.thread(user="bob")
        bobs_item = await w.item(bobs, user_message, user="bob")
        for thread_id in ("cthr_missing", bobs):
            for req in [
                request("threads.add_user_message", thread_id=thread_id, input=user_input()),
                request("threads.add_client_tool_output", thread_id=thread_id, result={}),
                request(
                    "threads.add_structured_input",
                    thread_id=thread_id,
                    item_id=bobs_item,
                    input={"answers": {}},
                ),
                request("threads.retry_after_item", thread_id=thread_id, item_id=bobs_item),
                request(
                    "threads.custom_action",
                    thread_id=thread_id,
                    item_id=None,
                    action={"type": "x", "payload": {}},
                ),
                request(
                    "threads.sync_custom_action",
                    thread_id=thread_id,
                    item_id=None,
                    action={"type": "x", "payload": {}},
                ),
                request("threads.update", thread_id=thread_id, title="new"),
                request("threads.delete", thread_id=thread_id),
                request("items.list", thread_id=thread_id),
            ]:
                error = await w.refusal(req, w.context(workflow=Capable("capable")))
                assert_error(
                    error, NotFound, None, mentions=f"No thread found with id '{thread_id}'."
                )
        # Bob still has his thread, and may act on it.
        await w.accepts(request("items.list", thread_id=bobs), w.context("bob"))
        await w.accepts(request("threads.delete", thread_id=bobs), w.context("bob"))

    on(database, tmp_path, work)


@pytest.mark.parametrize("status", [locked, closed])
def test_locked_or_closed_threads_take_no_input(
    database: Database, tmp_path: Path, status: Callable[[], ThreadStatus]
) -> None:
    async def work(w: World) -> None:
        thread_id = await w.thread(status=status())
        message_id = await w.item(thread_id, user_message)
        pending = await w.item(thread_id, lambda t: structured_input(t, "pending"))
        await w.item(thread_id, lambda t: tool_call(t, "pending"))
        kind = status().type
        capable = w.context(workflow=Capable("capable"))
        for req in [
            request("threads.add_user_message", thread_id=thread_id, input=user_input()),
            request("threads.add_client_tool_output", thread_id=thread_id, result={}),
            request(
                "threads.add_structured_input",
                thread_id=thread_id,
                item_id=pending,
                input={"answers": {}},
            ),
            request("threads.retry_after_item", thread_id=thread_id, item_id=message_id),
            request(
                "threads.custom_action",
                thread_id=thread_id,
                item_id=None,
                action={"type": "x", "payload": {}},
            ),
        ]:
            error = await w.refusal(req, capable)
            reason = status().reason
            assert_error(
                error,
                Conflict,
                f"thread_{kind}",
                mentions=f"The thread '{thread_id}' is {kind} ({reason}) and accepts no new input.",
            )
        # Reading, renaming, synchronous actions and deletion still work.
        for req in [
            request("threads.get_by_id", thread_id=thread_id),
            request("threads.update", thread_id=thread_id, title="renamed"),
            request(
                "threads.sync_custom_action",
                thread_id=thread_id,
                item_id=None,
                action={"type": "x", "payload": {}},
            ),
            request("threads.delete", thread_id=thread_id),
        ]:
            await w.accepts(req, capable)

    on(database, tmp_path, work)


def test_a_locked_thread_without_a_reason_says_only_its_state(
    database: Database, tmp_path: Path
) -> None:
    async def work(w: World) -> None:
        thread_id = await w.thread(status=LockedStatus())
        error = await w.refusal(
            request("threads.add_user_message", thread_id=thread_id, input=user_input())
        )
        assert error.message == f"The thread '{thread_id}' is locked and accepts no new input."

    on(database, tmp_path, work)


# --- attachments ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["threads.create", "threads.add_user_message"])
def test_attachments_must_be_the_callers_and_uploaded(
    database: Database, tmp_path: Path, kind: str
) -> None:
    async def work(w: World) -> None:
        threads = {"alice": await w.thread(user_message), "bob": await w.thread(user="bob")}

        def req(*attachments: str, user: str = "alice") -> Any:
            params: dict[str, Any] = {"input": user_input(list(attachments))}
            if kind == "threads.add_user_message":
                params["thread_id"] = threads[user]
            return request(kind, **params)

        ready = await w.attachment()
        awaited = await w.attachment(uploaded=False)
        bobs = await w.attachment("bob")
        for missing in ("atc_missing", bobs):
            assert_error(
                await w.refusal(req(ready, missing)),
                NotFound,
                None,
                mentions=f"No attachment found with id '{missing}'.",
            )
        assert_error(
            await w.refusal(req(ready, awaited)),
            InvalidRequest,
            "attachment_not_uploaded",
            param="params.input.attachments",
            mentions=f"The attachment '{awaited}' has not been uploaded yet.",
        )
        await w.accepts(req())
        await w.accepts(req(ready))
        await w.accepts(req(bobs, user="bob"), w.context("bob"))

    on(database, tmp_path, work)


# --- items ----------------------------------------------------------------------------------


def test_client_tool_output_needs_a_pending_call_as_the_last_item(
    database: Database, tmp_path: Path
) -> None:
    async def work(w: World) -> None:
        def req(thread_id: str) -> Any:
            return request("threads.add_client_tool_output", thread_id=thread_id, result={"x": 1})

        refused = [
            await w.thread(),
            await w.thread(user_message),
            await w.thread(user_message, lambda t: tool_call(t, "completed")),
            await w.thread(user_message, lambda t: tool_call(t, "pending"), assistant_message),
        ]
        for thread_id in refused:
            assert_error(
                await w.refusal(req(thread_id)),
                InvalidRequest,
                "no_pending_tool_call",
                mentions=f"The thread '{thread_id}' has no pending client tool call.",
            )
        await w.accepts(req(await w.thread(user_message, lambda t: tool_call(t, "pending"))))

    on(database, tmp_path, work)


def test_structured_input_needs_a_pending_structured_input_item(
    database: Database, tmp_path: Path
) -> None:
    async def work(w: World) -> None:
        thread_id = await w.thread(user_message)
        answered = await w.item(thread_id, lambda t: structured_input(t, "answered"))
        message = await w.item(thread_id, user_message)
        pending = await w.item(thread_id, lambda t: structured_input(t, "pending"))

        def req(item_id: str) -> Any:
            return request(
                "threads.add_structured_input",
                thread_id=thread_id,
                item_id=item_id,
                input={"answers": {"q1": {"values": ["because"]}}},
            )

        assert_error(
            await w.refusal(req("cthi_missing")),
            NotFound,
            None,
            mentions=f"No item found with id 'cthi_missing' in thread '{thread_id}'.",
        )
        for item_id in (answered, message):
            assert_error(
                await w.refusal(req(item_id)),
                InvalidRequest,
                "invalid_value",
                param="params.item_id",
                mentions=f"The item '{item_id}' is not a pending structured input.",
            )
        await w.accepts(req(pending))

    on(database, tmp_path, work)


def test_retry_needs_a_user_message(database: Database, tmp_path: Path) -> None:
    async def work(w: World) -> None:
        thread_id = await w.thread()
        message = await w.item(thread_id, user_message)
        answer = await w.item(thread_id, assistant_message)

        def req(item_id: str) -> Any:
            return request("threads.retry_after_item", thread_id=thread_id, item_id=item_id)

        assert_error(
            await w.refusal(req("cthi_missing")),
            NotFound,
            None,
            mentions=f"No item found with id 'cthi_missing' in thread '{thread_id}'.",
        )
        assert_error(
            await w.refusal(req(answer)),
            InvalidRequest,
            "invalid_value",
            param="params.item_id",
            mentions=f"The item '{answer}' is not a user message.",
        )
        await w.accepts(req(message))

    on(database, tmp_path, work)


# --- actions --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["threads.custom_action", "threads.sync_custom_action"])
def test_actions_need_a_workflow_with_them_and_a_widget(
    database: Database, tmp_path: Path, kind: str
) -> None:
    async def work(w: World) -> None:
        thread_id = await w.thread()
        message = await w.item(thread_id, user_message)
        sender = await w.item(thread_id, widget)

        def req(item_id: str | None) -> Any:
            return request(
                kind,
                thread_id=thread_id,
                item_id=item_id,
                action={"type": "do.it", "payload": {}},
            )

        echo = w.context()
        assert_error(
            await w.refusal(req(sender), echo),
            InvalidRequest,
            "unsupported",
            param="type",
            mentions=f"{kind} is not supported by this workflow ('echo').",
        )
        capable = w.context(workflow=Capable("capable"))
        assert_error(
            await w.refusal(req("cthi_missing"), capable),
            NotFound,
            None,
            mentions=f"No item found with id 'cthi_missing' in thread '{thread_id}'.",
        )
        assert_error(
            await w.refusal(req(message), capable),
            InvalidRequest,
            "invalid_value",
            param="params.item_id",
            mentions=f"The item '{message}' is not a widget.",
        )
        await w.accepts(req(sender), capable)
        await w.accepts(req(None), capable)

    on(database, tmp_path, work)


def test_a_workflow_may_have_only_one_kind_of_action(database: Database, tmp_path: Path) -> None:
    class SyncOnly(EchoWorkflow):
        supports_sync_actions = True

    async def work(w: World) -> None:
        thread_id = await w.thread(user_message)
        context = w.context(workflow=SyncOnly("sync-only"))
        action = {"type": "do.it", "payload": {}}
        params = {"thread_id": thread_id, "item_id": None, "action": action}
        assert_error(
            await w.refusal(request("threads.custom_action", **params), context),
            InvalidRequest,
            "unsupported",
            param="type",
            mentions="threads.custom_action is not supported by this workflow ('sync-only').",
        )
        await w.accepts(request("threads.sync_custom_action", **params), context)

    on(database, tmp_path, work)


# --- titles, transcription and the rest -----------------------------------------------------


def test_a_title_with_a_nul_character_is_refused(database: Database, tmp_path: Path) -> None:
    async def work(w: World) -> None:
        thread_id = await w.thread(user_message)
        assert_error(
            await w.refusal(request("threads.update", thread_id=thread_id, title="a\x00b")),
            InvalidRequest,
            "invalid_value",
            param="params.title",
            mentions="Invalid 'params.title': the string contains a NUL character.",
        )
        await w.accepts(request("threads.update", thread_id=thread_id, title="a b"))

    on(database, tmp_path, work)


def test_transcription_needs_the_workflow_and_base64_audio(
    database: Database, tmp_path: Path
) -> None:
    async def work(w: World) -> None:
        def req(audio: str) -> Any:
            return request("input.transcribe", audio_base64=audio, mime_type="audio/webm")

        assert_error(
            await w.refusal(req("AAAA")),
            InvalidRequest,
            "unsupported",
            param="type",
            mentions="Speech transcription (input.transcribe) is not supported by this "
            "workflow ('echo').",
        )
        capable = w.context(workflow=Capable("capable"))
        for audio in ("not base64!", "AAA"):
            assert_error(
                await w.refusal(req(audio), capable),
                InvalidRequest,
                "invalid_value",
                param="params.audio_base64",
                mentions="Invalid 'params.audio_base64': not valid base64.",
            )
        await w.accepts(req("AAAA"), capable)

    on(database, tmp_path, work)


def test_requests_with_nothing_to_check_pass(database: Database, tmp_path: Path) -> None:
    """Reads and feedback are refused by the server itself, not beforehand."""

    async def work(w: World) -> None:
        for req in [
            request("threads.get_by_id", thread_id="cthr_missing"),
            request("threads.list"),
            request("items.feedback", thread_id="cthr_missing", item_ids=["x"], kind="positive"),
            request("attachments.delete", attachment_id="atc_missing"),
        ]:
            await w.accepts(req)

    on(database, tmp_path, work)
