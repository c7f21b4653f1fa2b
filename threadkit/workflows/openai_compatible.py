"""``openai-compatible``: streams the answer from a server speaking OpenAI's Chat
Completions streaming API (OpenAI itself, vLLM, llama.cpp's server, Ollama, ...).

The model sees, in order: the configured ``instructions`` (with ``{{name}}``
replaced by the session's state variable ``name``, and ``{{user}}`` by the user),
the state variables as a JSON system message, then the thread's history (user and
assistant messages, oldest first, the new user message last).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import openai
from chatkit.errors import CustomStreamError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    HiddenContextItem,
    SDKHiddenContextItem,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)

from . import ChatContext, Workflow

log = logging.getLogger("threadkit.workflows")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def render(template: str, variables: dict[str, Any]) -> str:
    """``template`` with ``{{name}}`` replaced by ``variables[name]`` (unknown names stay)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(variables[name]) if name in variables else match.group(0)

    return _PLACEHOLDER.sub(value, template)


def _user_text(item: UserMessageItem) -> str:
    text = "".join(part.text for part in item.content)
    if item.quoted_text:
        text = f"> {item.quoted_text}\n\n{text}"
    for attachment in item.attachments:
        text += f"\n[attached: {attachment.name} ({attachment.mime_type})]"
    return text


def history_messages(items: list[ThreadItem]) -> list[dict[str, str]]:
    """Chat Completions messages for a thread's items (those a model can read)."""
    messages: list[dict[str, str]] = []
    for item in items:
        if isinstance(item, UserMessageItem):
            messages.append({"role": "user", "content": _user_text(item)})
        elif isinstance(item, AssistantMessageItem):
            text = "".join(part.text for part in item.content)
            messages.append({"role": "assistant", "content": text})
        elif isinstance(item, SDKHiddenContextItem | HiddenContextItem):
            content = item.content
            text = content if isinstance(content, str) else json.dumps(content)
            messages.append({"role": "system", "content": text})
    return messages


class OpenAICompatibleWorkflow(Workflow):
    kind = "openai-compatible"

    def __init__(
        self,
        workflow_id: str,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        instructions: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        max_history_items: int = 50,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(workflow_id)
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.instructions = instructions
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_history_items = max_history_items
        self.timeout = timeout
        self._client: openai.AsyncOpenAI | None = None

    @property
    def client(self) -> openai.AsyncOpenAI:
        # Made on first use, inside the server's event loop.
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                # Local servers usually take no key, but the client insists on one.
                api_key=self.api_key or "unused",
                timeout=self.timeout,
                max_retries=0,
            )
        return self._client

    async def messages(self, thread: ThreadMetadata, context: ChatContext) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = []
        variables = {"user": context.user_id, **context.state_variables}
        if self.instructions:
            messages.append({"role": "system", "content": render(self.instructions, variables)})
        if context.state_variables:
            messages.append(
                {
                    "role": "system",
                    "content": "Session state variables (JSON): "
                    + json.dumps(context.state_variables, ensure_ascii=False),
                }
            )
        items = await context.load_history(thread.id, self.max_history_items)
        return messages + history_messages(items)

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        options: dict[str, Any] = {}
        if self.temperature is not None:
            options["temperature"] = self.temperature
        if self.max_tokens is not None:
            options["max_tokens"] = self.max_tokens
        messages = await self.messages(thread, context)
        try:
            stream = await self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                **options,
            )
        except openai.APIError as exc:
            raise self._failure(exc) from exc
        item = AssistantMessageItem(
            id=context.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        text = ""
        try:
            yield ThreadItemAddedEvent(item=item)
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartAdded(
                    content_index=0, content=AssistantMessageContent(text="")
                ),
            )
            async for chunk in stream:
                for choice in chunk.choices:
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        text += delta
                        yield ThreadItemUpdatedEvent(
                            item_id=item.id,
                            update=AssistantMessageContentPartTextDelta(
                                content_index=0, delta=delta
                            ),
                        )
        except openai.APIError as exc:
            raise self._failure(exc) from exc
        finally:
            await stream.close()
        content = AssistantMessageContent(text=text)
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartDone(content_index=0, content=content),
        )
        yield ThreadItemDoneEvent(item=item.model_copy(update={"content": [content]}))

    def _failure(self, exc: openai.APIError) -> CustomStreamError:
        status = getattr(exc, "status_code", None)
        log.warning("workflow %s: the model server at %s failed: %s", self.id, self.base_url, exc)
        detail = f" (HTTP {status})" if status else ""
        return CustomStreamError(
            f"The model server could not answer{detail}. Please try again.", allow_retry=True
        )
