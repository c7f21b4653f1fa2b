"""Processes that parse an import's chunks beside the importing process.

Parsing, checking and encoding a chunk is pure Python work (JSON, validation, building
rows): one process cannot do more of it than its interpreter lock allows, and that
bounded a large import (docs/performance.md). Chunks are independent until the checks
across the file, so each worker takes whole chunks, parses them with ``parse_chunk``
and encodes the rows with the store's ``BulkImport.encoder``; the importing process
gets back the few fields its checks need and the encoded batch, which it hands to the
store as it is.

A worker's messages: first ``"ready"`` (its imports done); then, for each chunk it
is sent, ``(numbers, ids, thread_ids, error)`` followed by the encoded batch as
bytes; ``error`` is ``(line, reason)`` or ``None``. Anything else it sends is an
exception that stopped it.
"""

from __future__ import annotations

import asyncio
import multiprocessing.connection
import queue
import threading
from collections.abc import Callable
from importlib import import_module
from typing import Any

from threadkit.processes import Helper, child_pipe
from threadkit.services.import_parse import Chunk, ImportFailed, ParsedChunk, parse_chunk

#: chunks sent to one worker before its first result is read: one to parse while the
#: result of the other is on its way back
IN_FLIGHT = 2

Encoder = Callable[[str, list[Any], list[Any]], bytes]


def load_encoder(spec: str) -> Encoder:
    """The function a ``"module:function"`` spec names."""
    module, _, name = spec.partition(":")
    return getattr(import_module(module), name)  # type: ignore[no-any-return]


class Worker:
    """One parsing process and the chunks it has been sent."""

    def __init__(self, encoder: str, project: str) -> None:
        self.helper = Helper(__name__, [encoder, project])
        self.ready = False
        self.in_flight = 0

    def poll_ready(self) -> bool:
        """Whether the worker has finished starting (without waiting for it)."""
        if not self.ready and self.helper.pipe.poll():
            self._expect(self.helper.pipe.recv(), "ready")
            self.ready = True
        return self.ready

    def send(self, chunk: Chunk) -> None:
        self.helper.pipe.send(chunk)
        self.in_flight += 1

    def receive(self) -> tuple[ParsedChunk, bytes]:
        """The next chunk's result (blocking): the rows' fields for the checks, no rows
        (``threads`` and ``items`` stay empty), and the encoded batch."""
        pipe = self.helper.pipe
        message = pipe.recv()
        if not isinstance(message, tuple):
            self._expect(message, "a parsed chunk")
        numbers, ids, thread_ids, error = message
        encoded = pipe.recv_bytes()
        self.in_flight -= 1
        parsed = ParsedChunk(numbers=numbers, ids=ids, thread_ids=thread_ids)
        if error is not None:
            parsed.error = ImportFailed(*error)
        return parsed, encoded

    @staticmethod
    def _expect(message: object, what: str) -> None:
        if isinstance(message, BaseException):
            raise RuntimeError(f"an import's parsing process failed: {message!r}") from message
        if message != what:
            raise RuntimeError(f"an import's parsing process sent {message!r}, not {what}")


class ParsingPool:
    """``count`` workers, started at once; chunks go to the first ready one with room.

    While no worker is ready yet, the caller parses chunks itself, so starting the
    workers costs the import nothing but CPU.
    """

    def __init__(self, count: int, encoder: str, project: str) -> None:
        self.workers = [Worker(encoder, project) for _ in range(count)]

    def ready(self) -> list[Worker]:
        """The workers that have finished starting."""
        return [w for w in self.workers if w.poll_ready()]

    async def started(self) -> None:
        """Wait until at least one worker is ready."""
        loop = asyncio.get_running_loop()
        pipes = [w.helper.pipe for w in self.workers]
        await loop.run_in_executor(None, multiprocessing.connection.wait, pipes)

    @staticmethod
    def least_busy(workers: list[Worker]) -> Worker | None:
        """The one of ``workers`` with the fewest chunks in flight, if it has room."""
        worker = min(workers, key=lambda w: w.in_flight, default=None)
        return worker if worker is not None and worker.in_flight < IN_FLIGHT else None

    async def receive(self, worker: Worker) -> tuple[ParsedChunk, bytes]:
        """``worker.receive()`` without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, worker.receive)

    def close(self, *, abandon: bool) -> None:
        """Stop every worker: told to end when all went well, killed when the import is
        abandoned (a worker may be blocked sending a result nobody will read)."""
        for worker in self.workers:
            if abandon:
                worker.helper.process.kill()
            worker.helper.stop(goodbye=None if abandon else "end")


def main(argv: list[str]) -> None:
    """A worker's entry point: ``ENCODER PROJECT PIPE_FD``."""
    spec, project, fd = argv
    pipe = child_pipe(fd)
    chunks: queue.SimpleQueue[object] = queue.SimpleQueue()

    def take_chunks() -> None:
        # Always reading what the importer sends: it may be sending the next chunk
        # while this worker sends a result, and neither send could finish otherwise.
        try:
            while isinstance(message := pipe.recv(), tuple):
                chunks.put(message)
        except (EOFError, OSError):
            message = None  # the importing process is gone
        chunks.put(message)

    threading.Thread(target=take_chunks, daemon=True).start()
    try:
        encode = load_encoder(spec)
        pipe.send("ready")
        while isinstance(chunk := chunks.get(), tuple):
            parsed = parse_chunk(*chunk)
            error = None if parsed.error is None else (parsed.error.line, parsed.error.reason)
            pipe.send((parsed.numbers, parsed.ids, parsed.thread_ids, error))
            pipe.send_bytes(encode(project, parsed.threads, parsed.items))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the importing process is gone
    except BaseException as exc:  # reported; the importer raises it
        pipe.send(exc)
    finally:
        pipe.close()
