"""Parsing an import's lines: chunks of a JSON Lines file, each checked line by line.

What needs the whole file or the store (ids unique in the file, every item's thread
known) is checked afterwards, in order, by ``transfer.Importer``. ``row_of_object`` checks
one object the same way: ``threadkit sync`` stores what another API lists through it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson
from pydantic import TypeAdapter, ValidationError

from threadkit.schemas import RestItem, RestThread
from threadkit.stores.records import ItemRow, ThreadRow, item_row_from_rest

_THREAD: TypeAdapter[Any] = TypeAdapter(RestThread)
_ITEM: TypeAdapter[Any] = TypeAdapter(RestItem)

#: lines per chunk when the lines come one by one (``chunks_of_lines``)
CHUNK_LINES = 5_000
#: bytes read at a time from a file (``chunks_of_stream``): about 10,000 items
CHUNK_BYTES = 4 << 20

#: a chunk of lines: the number of its first line, and its lines (without line endings)
Chunk = tuple[int, list[bytes]]


class ImportFailed(Exception):
    """A line of the file cannot be imported; nothing of the file was stored."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(slots=True)
class ParsedChunk:
    """A chunk's rows up to its first bad line (``error``, ``None`` if there is none):
    ``rows`` in file order with their line numbers, and the same rows by kind."""

    rows: list[tuple[int, ThreadRow | ItemRow]] = field(default_factory=list)
    threads: list[ThreadRow] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    error: ImportFailed | None = None


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector: an import keeps every id it has seen alive (and
    every row, for a store that stores them at the end), and the collector would scan
    them over and over (it more than doubled the parsing time of a million items).
    They hold no cycles; reference counting still frees everything else as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "object"
    return f"{where}: {first['msg']}"


class BadObject(ValueError):
    """A REST object that threadkit cannot store: the reason says what is wrong."""


def row_of_object(data: Any) -> ThreadRow | ItemRow:
    """The row for one REST-shaped object, checked as an import checks each line (the
    shape of its ``object``, ids, types); raises ``BadObject`` naming what is wrong."""
    if not isinstance(data, dict):
        raise BadObject("expected a JSON object")
    kind = data.get("object")
    if kind == "chatkit.thread":
        try:
            _THREAD.validate_python(data)
        except ValidationError as exc:
            raise BadObject(_validation_reason(exc)) from None
        return ThreadRow(
            id=data["id"],
            user=data["user"],
            created_us=data["created_at"] * 1_000_000,
            title=data["title"],
            status=data["status"],
        )
    if kind == "chatkit.thread_item":
        try:
            _ITEM.validate_python(data)
        except ValidationError as exc:
            raise BadObject(_validation_reason(exc)) from None
        return item_row_from_rest(data)
    raise BadObject(f"'object' must be 'chatkit.thread' or 'chatkit.thread_item', got {kind!r}")


def _parse_line(number: int, raw: bytes) -> ThreadRow | ItemRow:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ImportFailed(number, f"not valid JSON ({exc})") from None
    try:
        return row_of_object(data)
    except BadObject as exc:
        raise ImportFailed(number, str(exc)) from None


def parse_chunk(first: int, lines: list[bytes]) -> ParsedChunk:
    """Parse and check ``lines``, numbered from ``first`` (blank ones are skipped), each
    on its own, stopping at the first bad one. Callers holding many rows pause the
    cycle collector around it (``cyclic_gc_paused``), as ``Importer`` does."""
    parsed = ParsedChunk()
    for number, raw in enumerate(lines, start=first):
        if not raw.strip():
            continue
        try:
            row = _parse_line(number, raw)
        except ImportFailed as exc:
            parsed.error = exc
            break
        parsed.rows.append((number, row))
        if isinstance(row, ThreadRow):
            parsed.threads.append(row)
        else:
            parsed.items.append(row)
    return parsed


def chunks_of_lines(
    lines: Iterable[bytes], size: int = CHUNK_LINES, progress: Callable[[int], None] | None = None
) -> Iterator[Chunk]:
    """Chunks of ``size`` lines from lines given one by one (without line endings)."""
    chunk: list[bytes] = []
    first = 1
    for number, raw in enumerate(lines, start=1):
        if progress is not None:
            progress(len(raw))
        chunk.append(raw)
        if len(chunk) == size:
            yield first, chunk
            chunk, first = [], number + 1
    if chunk:
        yield first, chunk


def chunks_of_stream(
    stream: BinaryIO, size: int = CHUNK_BYTES, progress: Callable[[int], None] | None = None
) -> Iterator[Chunk]:
    """Chunks of whole lines from a binary file, read ``size`` bytes at a time (a line
    longer than that makes its chunk longer). A line may end in ``\\r\\n``: JSON allows
    the ``\\r`` as white space."""
    first, rest = 1, b""
    while data := stream.read(size):
        if progress is not None:
            progress(len(data))
        data = rest + data
        end = data.rfind(b"\n")
        if end < 0:
            rest = data
            continue
        lines, rest = data[:end].split(b"\n"), data[end + 1 :]
        yield first, lines
        first += len(lines)
    if rest:
        yield first, [rest]
