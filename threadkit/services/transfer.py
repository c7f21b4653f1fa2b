"""Import and export of threads as JSON Lines in the REST shapes.

One object per line: a ``chatkit.thread`` line, then that thread's
``chatkit.thread_item`` lines, oldest first. Export writes exactly the bytes the
REST API serves, so an export imported into an empty database serves the same
responses byte for byte. An import is all or nothing: every line is checked, and
the whole file is stored in one transaction or not at all.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
from pydantic import TypeAdapter, ValidationError

from threadkit.schemas import RestItem, RestThread
from threadkit.stores.base import (
    DuplicateId,
    ItemRow,
    PageQuery,
    ThreadRow,
    ThreadStore,
    item_row_from_rest,
)

_THREAD: TypeAdapter[Any] = TypeAdapter(RestThread)
_ITEM: TypeAdapter[Any] = TypeAdapter(RestItem)
_PAGE = 100


#: lines per batch: parsed in one piece, stored in one ``BulkImport.add``
CHUNK_LINES = 5_000


class ImportFailed(Exception):
    """A line of the file cannot be imported; nothing of the file was stored."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImportResult:
    threads: int
    items: int


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "object"
    return f"{where}: {first['msg']}"


def _parse_line(number: int, raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ImportFailed(number, f"not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ImportFailed(number, "expected a JSON object")
    return value


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
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


# One parsed line: its number, then a ThreadRow or an ItemRow.
Parsed = tuple[int, ThreadRow | ItemRow]


def _parse_chunk(first: int, raws: list[bytes]) -> list[Parsed]:
    """Parse and check lines ``first, first + 1, ...`` (blank ones are skipped): each
    line on its own; what needs the whole file or the store is checked by the caller."""
    with _cyclic_gc_paused():
        parsed: list[Parsed] = []
        for number, raw in enumerate(raws, start=first):
            if not raw.strip():
                continue
            data = _parse_line(number, raw)
            kind = data.get("object")
            if kind == "chatkit.thread":
                try:
                    _THREAD.validate_python(data)
                except ValidationError as exc:
                    raise ImportFailed(number, _validation_reason(exc)) from None
                row: ThreadRow | ItemRow = ThreadRow(
                    id=data["id"],
                    user=data["user"],
                    created_us=data["created_at"] * 1_000_000,
                    title=data["title"],
                    status=data["status"],
                )
            elif kind == "chatkit.thread_item":
                try:
                    _ITEM.validate_python(data)
                except ValidationError as exc:
                    raise ImportFailed(number, _validation_reason(exc)) from None
                row = item_row_from_rest(data)
            else:
                raise ImportFailed(
                    number,
                    f"'object' must be 'chatkit.thread' or 'chatkit.thread_item', got {kind!r}",
                )
            parsed.append((number, row))
        return parsed


def _chunks(
    lines: Iterable[bytes], progress: Callable[[int], None] | None, size: int
) -> Iterator[tuple[int, list[bytes]]]:
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


class Importer:
    """Checks a JSON Lines stream and stores it in one transaction.

    Lines are parsed in chunks, each handed to the store's ``bulk_import`` as soon as
    it is checked, so the store can insert one while the next is parsed (the SQLite
    store does, docs/performance.md); a bad line anywhere still stores nothing.
    """

    def __init__(self, store: ThreadStore, project: str, *, chunk_lines: int = CHUNK_LINES):
        self.store = store
        self.project = project
        self.chunk_lines = chunk_lines
        self._line_of: dict[tuple[str, str], int] = {}
        self._known_threads: set[str] = set()

    async def run(
        self, lines: Iterable[bytes], progress: Callable[[int], None] | None = None
    ) -> ImportResult:
        threads = items = 0
        try:
            with _cyclic_gc_paused():
                async with self.store.bulk_import(self.project) as sink:
                    for chunk in _chunks(lines, progress, self.chunk_lines):
                        batch_threads, batch_items = await self._accept(_parse_chunk(*chunk))
                        await sink.add(batch_threads, batch_items)
                        threads += len(batch_threads)
                        items += len(batch_items)
        except DuplicateId as exc:
            line = self._line_of.get((exc.kind, exc.value), 0)
            raise ImportFailed(
                line, f"{exc.kind} id '{exc.value}' already exists in project '{self.project}'"
            ) from None
        return ImportResult(threads, items)

    async def _accept(self, parsed: list[Parsed]) -> tuple[list[ThreadRow], list[ItemRow]]:
        """The checks that need the whole file or the store: ids unique in the file, and
        every item's thread on an earlier line or already stored."""
        threads: list[ThreadRow] = []
        items: list[ItemRow] = []
        line_of, known = self._line_of, self._known_threads
        for number, row in parsed:
            kind = "item" if isinstance(row, ItemRow) else "thread"
            first = line_of.setdefault((kind, row.id), number)
            if first != number:
                raise ImportFailed(number, f"{kind} id '{row.id}' already appears on line {first}")
            if isinstance(row, ThreadRow):
                known.add(row.id)
                threads.append(row)
                continue
            if row.thread_id not in known:
                if await self.store.get_thread(self.project, row.thread_id) is None:
                    raise ImportFailed(
                        number,
                        f"item '{row.id}' belongs to thread '{row.thread_id}', which is "
                        "neither on an earlier line nor stored in the project",
                    )
                known.add(row.thread_id)
            items.append(row)
        return threads, items


async def export_lines(
    store: ThreadStore, project: str, user: str | None = None
) -> AsyncIterator[bytes]:
    """Yield the export's lines (each ending in a newline), threads oldest first."""
    after: str | None = None
    while True:
        page = await store.list_threads(
            project, PageQuery(limit=_PAGE, order="asc", after=after), user
        )
        for thread in page.rows:
            yield orjson.dumps(thread.to_rest()) + b"\n"
            item_after: str | None = None
            while True:
                items = await store.list_items(
                    project,
                    thread.id,
                    PageQuery(limit=_PAGE, order="asc", after=item_after),
                    rest_only=True,
                )
                for item in items.rows:
                    yield item.to_rest_json() + b"\n"
                if not items.has_more or not items.rows:
                    break
                item_after = items.rows[-1].id
        if not page.has_more or not page.rows:
            return
        after = page.rows[-1].id


def read_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines of a binary stream, without their line endings."""
    for raw in stream:
        yield raw.rstrip(b"\r\n")
