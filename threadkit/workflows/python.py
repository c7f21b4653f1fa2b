"""``python``: your own code answers. ``target = "module:attribute"`` names either

* a function ``respond(thread, input_user_message, context)`` returning an async
  iterator of ChatKit events (an ``async def`` with ``yield``), or
* an object (or a class, instantiated with the config's ``options``) with such a
  ``respond`` method and, optionally, ``action``, ``sync_action`` and ``transcribe``
  with the signatures of the same ``chatkit.server.ChatKitServer`` methods.

``context`` is a ``threadkit.workflows.ChatContext``: ``user_id``, ``project``,
``state_variables``, ``store`` (a ``chatkit.store.Store``, so ``chatkit.agents`` works
with it), ``files`` and ``load_history()``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any, get_args

from chatkit.types import (
    Action,
    AudioInput,
    SyncCustomActionResponse,
    ThreadMetadata,
    ThreadStreamEvent,
    TranscriptionResult,
    UserMessageItem,
    WidgetItem,
)

from . import ChatContext, Workflow

_EVENT_TYPES = get_args(get_args(ThreadStreamEvent)[0])


def resolve(target: str, python_path: Sequence[str] = ()) -> Any:
    """The object named by ``"package.module:attribute.path"``."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"target must look like 'module:attribute', got {target!r}")
    for folder in reversed(python_path):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r}: {exc}") from exc
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError as exc:
            raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from exc
    return value


async def _checked(events: Any, where: str) -> AsyncIterator[ThreadStreamEvent]:
    if not hasattr(events, "__aiter__"):
        raise TypeError(f"{where} must return an async iterator of ChatKit events")
    async for event in events:
        if not isinstance(event, _EVENT_TYPES):
            raise TypeError(f"{where} yielded {type(event).__name__}, not a ChatKit event")
        yield event


class PythonWorkflow(Workflow):
    kind = "python"

    def __init__(
        self,
        workflow_id: str,
        *,
        target: str,
        python_path: Sequence[str] = (),
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(workflow_id)
        self.target = target
        value = resolve(target, python_path)
        if inspect.isclass(value):
            value = value(**(options or {}))
        elif options:
            raise ValueError("'options' apply only when the target is a class")
        respond = getattr(value, "respond", None)
        if callable(respond):
            self._respond = respond
        elif callable(value):
            self._respond = value
        else:
            raise ValueError(f"{target!r} is neither callable nor has a respond() method")
        self._action = getattr(value, "action", None) if respond else None
        self._sync_action = getattr(value, "sync_action", None) if respond else None
        self._transcribe = getattr(value, "transcribe", None) if respond else None
        self.supports_actions = callable(self._action)
        self.supports_sync_actions = callable(self._sync_action)
        self.supports_transcription = callable(self._transcribe)

    def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        return _checked(self._respond(thread, input_user_message, context), self.target)

    def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if self._action is None:
            return super().action(thread, action, sender, context)
        return _checked(self._action(thread, action, sender, context), f"{self.target} action")

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: ChatContext,
    ) -> SyncCustomActionResponse:
        if self._sync_action is None:
            return await super().sync_action(thread, action, sender, context)
        result = await self._sync_action(thread, action, sender, context)
        if not isinstance(result, SyncCustomActionResponse):
            raise TypeError(f"{self.target} sync_action must return a SyncCustomActionResponse")
        return result

    async def transcribe(self, audio: AudioInput, context: ChatContext) -> TranscriptionResult:
        if self._transcribe is None:
            return await super().transcribe(audio, context)
        result = await self._transcribe(audio, context)
        if not isinstance(result, TranscriptionResult):
            raise TypeError(f"{self.target} transcribe must return a TranscriptionResult")
        return result
