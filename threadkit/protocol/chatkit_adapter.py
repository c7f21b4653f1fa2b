"""The one place that calls ``chatkit.server.ChatKitServer``'s private methods.

openai-chatkit offers no public way to answer a request that is already validated
(``ChatKitServer.process`` takes the raw body and validates it again, building a
``TypeAdapter`` of the whole request union on every call), nor to serialize a
response the way its server does. These wrappers make those calls; nothing else in
threadkit may. tests/test_chatkit_adapter.py checks every method in
``PRIVATE_METHODS`` against the installed openai-chatkit: present, with these
parameters, and behaving as relied on here.
"""

from __future__ import annotations

from typing import Any, TypeVar

from chatkit.logger import logger
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.types import ChatKitReq, Thread, ThreadMetadata, is_streaming_req
from pydantic import BaseModel

TContext = TypeVar("TContext")

#: the private methods of ``ChatKitServer`` used here, with their parameter names
PRIVATE_METHODS: dict[str, tuple[str, ...]] = {
    "_process_streaming": ("self", "request", "context"),
    "_process_non_streaming": ("self", "request", "context"),
    "_serialize": ("self", "obj"),
    "_to_thread_response": ("self", "thread"),
}


async def process(
    server: ChatKitServer[TContext], req: ChatKitReq, context: TContext
) -> StreamingResult | NonStreamingResult:
    """What ``server.process`` answers for the body ``req`` was validated from: a stream
    of SSE frames, or the JSON of a non-streaming answer (computed here)."""
    logger.info("Received request op: %s", req.type)
    if is_streaming_req(req):
        return StreamingResult(server._process_streaming(req, context))
    return NonStreamingResult(await server._process_non_streaming(req, context))


def serialize(server: ChatKitServer[Any], obj: BaseModel) -> bytes:
    """``obj`` as the server's JSON: by alias, without ``None`` fields, and without the
    attachments' ``metadata`` (threadkit keeps upload tokens there)."""
    return server._serialize(obj)


def thread_response(server: ChatKitServer[Any], thread: ThreadMetadata | Thread) -> Thread:
    """The thread as the server returns it: hidden context items left out."""
    return server._to_thread_response(thread)
