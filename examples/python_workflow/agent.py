"""A ``python`` workflow running an OpenAI Agents SDK agent through ``chatkit.agents``.

The agent talks to any Chat Completions server: set ``MODEL_BASE_URL`` (for example
``http://127.0.0.1:11434/v1`` for Ollama), ``MODEL_NAME`` and, if the server needs one,
``MODEL_API_KEY``; then enable the ``agent`` table in threadkit.toml.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from agents import Agent, OpenAIChatCompletionsModel, Runner, set_tracing_disabled
from agents.models.fake_id import FAKE_RESPONSES_ID
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem
from openai import AsyncOpenAI

from threadkit.workflows.openai_compatible import history_messages

# Traces would go to OpenAI's servers; a self-hosted setup keeps them off.
set_tracing_disabled(True)

_client = AsyncOpenAI(
    base_url=os.environ.get("MODEL_BASE_URL", "http://127.0.0.1:11434/v1"),
    api_key=os.environ.get("MODEL_API_KEY", "unused"),
)

assistant = Agent(
    name="Assistant",
    instructions="You are a concise, friendly assistant.",
    model=OpenAIChatCompletionsModel(
        model=os.environ.get("MODEL_NAME", "llama3.2"), openai_client=_client
    ),
)


async def respond(
    thread: ThreadMetadata, message: UserMessageItem | None, context
) -> AsyncIterator[ThreadStreamEvent]:
    agent_context = AgentContext(thread=thread, store=context.store, request_context=context)
    # The thread as plain chat messages. (chatkit.agents.simple_to_agent_input gives
    # Responses API items, which suit OpenAI's Responses models but which the Agents
    # SDK cannot send to a Chat Completions server once the thread has an answer.)
    history = history_messages(await context.load_history(thread.id))
    result = Runner.run_streamed(assistant, history, context=agent_context)
    # chatkit.agents reuses the model's message ids, and the Agents SDK gives every
    # message from a Chat Completions server the same placeholder id: give each
    # message an id of its own (a new one at each thread.item.added).
    current = agent_context.generate_id("message")
    async for event in stream_agent_response(agent_context, result):
        item = getattr(event, "item", None)
        if item is not None and item.id == FAKE_RESPONSES_ID:
            if event.type == "thread.item.added":
                current = agent_context.generate_id("message")
            event = event.model_copy(update={"item": item.model_copy(update={"id": current})})
        elif getattr(event, "item_id", None) == FAKE_RESPONSES_ID:
            event = event.model_copy(update={"item_id": current})
        yield event
