"""Workflows: what answers in a thread. A session's ``workflow.id`` names one.

Three kinds ship with threadkit: ``echo`` (built in), ``openai-compatible`` (any Chat
Completions streaming server) and ``python`` (your own code). They are configured
in the TOML file passed with ``threadkit serve --config`` (see ``config``). Each call
receives a ``ChatContext`` (``context``): who asks, the session's settings, the store.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, ClassVar

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

from .context import SERVER_CONFIGURATION, ChatContext


class Unsupported(Exception):
    """The workflow does not do what the request asks (answered with HTTP 400)."""


class Workflow(abc.ABC):
    """Base class of workflows. ``respond`` is required; actions and transcription
    are optional (``supports_*`` say whether a workflow has them)."""

    kind: ClassVar[str] = ""

    def __init__(self, workflow_id: str) -> None:
        self.id = workflow_id

    @abc.abstractmethod
    def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Events answering the turn, as ``ChatKitServer.respond`` yields them."""

    supports_actions: bool = False
    supports_sync_actions: bool = False
    supports_transcription: bool = False

    def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        raise Unsupported(f"Custom actions are not supported by the workflow '{self.id}'.")

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: ChatContext,
    ) -> SyncCustomActionResponse:
        raise Unsupported(f"Custom actions are not supported by the workflow '{self.id}'.")

    async def transcribe(self, audio: AudioInput, context: ChatContext) -> TranscriptionResult:
        raise Unsupported(
            f"Speech transcription (input.transcribe) is not supported by the workflow '{self.id}'."
        )


class WorkflowRegistry(Mapping[str, Workflow]):
    """The configured workflows by id, and the one used when a caller names none."""

    def __init__(self, workflows: Mapping[str, Workflow], default: str | None = None) -> None:
        self._workflows = dict(workflows)
        self.default = default

    def __getitem__(self, workflow_id: str) -> Workflow:
        return self._workflows[workflow_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._workflows)

    def __len__(self) -> int:
        return len(self._workflows)


__all__ = ["SERVER_CONFIGURATION", "ChatContext", "Unsupported", "Workflow", "WorkflowRegistry"]
