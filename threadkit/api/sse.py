"""Server-sent events: the streamed answer of ``POST /chatkit``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator

from chatkit.errors import ErrorCode
from chatkit.types import ErrorEvent
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger("threadkit.chatkit")

_background: set[asyncio.Task[None]] = set()
#: in the queue of ``EventStream``: the stream ended, the client went away
_END, _GONE = object(), object()


def error_frame() -> bytes:
    """The protocol's ``error`` event (retry allowed) as one SSE frame."""
    event = ErrorEvent(code=ErrorCode.STREAM_ERROR, allow_retry=True)
    return b"data: " + event.model_dump_json(exclude_none=True).encode() + b"\n\n"


async def guarded(stream: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The stream, ending with an ``error`` event instead of a broken connection."""
    try:
        async for chunk in stream:
            yield chunk
    except Exception:
        log.exception("error inside a ChatKit stream")
        yield error_frame()


class EventStream(Response):
    """Server-sent events from an async iterator, driven by a task of its own.

    The iterator runs in a separate task so that a client disconnect can cancel it
    with one plain ``CancelledError``, delivered where the workflow is waiting;
    ``ChatKitServer`` then saves the partial answer, which needs to await the store
    (impossible inside a cancelled AnyIO scope, where Starlette's streaming response
    would run it).
    """

    media_type = "text/event-stream"

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        super().__init__(headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
        # Response sets content-length: 0 for its empty body; a stream has none.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One queue for both what the stream produces and the client's going away, so
        # waiting for the next chunk is one plain ``get``; chunks already waiting go out
        # in one write.
        queue: asyncio.Queue[bytes | object] = asyncio.Queue()

        async def produce() -> None:
            try:
                async for chunk in self.chunks:
                    queue.put_nowait(chunk)  # never waits: cancellation lands in the stream
            finally:
                queue.put_nowait(_END)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            queue.put_nowait(_GONE)

        producer = asyncio.create_task(produce())
        _background.add(producer)
        producer.add_done_callback(_background.discard)
        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            ended = False
            while not ended:
                chunk = await queue.get()
                if chunk is _GONE:
                    break  # the client went away
                parts: list[bytes] = []
                while True:
                    if chunk is _END:
                        ended = True
                        break
                    if chunk is _GONE:
                        return
                    assert isinstance(chunk, bytes)
                    parts.append(chunk)
                    if queue.empty():
                        break
                    chunk = queue.get_nowait()
                body = parts[0] if len(parts) == 1 else b"".join(parts)  # none at the end
                await send({"type": "http.response.body", "body": body, "more_body": not ended})
        finally:
            watcher.cancel()
            if not producer.done():
                producer.cancel()
            # Not cancelled with us: the producer finishes saving what it must.
            await asyncio.wait({producer})
            if not producer.cancelled() and producer.exception() is not None:
                log.error("ChatKit stream failed", exc_info=producer.exception())
