"""Import and export of threads as JSON Lines in the REST shapes.

One object per line: a ``chatkit.thread`` line, then that thread's
``chatkit.thread_item`` lines, oldest first. Export writes exactly the bytes the
REST API serves, so an export imported into an empty database serves the same
responses byte for byte. An import is all or nothing: the whole file is checked
first, then stored in one transaction.
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
    """Pause Python's cycle collector: an import keeps every parsed row alive until the
    single transaction, and the collector would scan them over and over (it more than
    doubled the parsing time of a million items). Rows hold no cycles; reference
    counting still frees everything else as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Importer:
    """Checks a JSON Lines stream, then stores it in one transaction."""

    def __init__(self, store: ThreadStore, project: str) -> None:
        self.store = store
        self.project = project

    async def run(
        self, lines: Iterable[bytes], progress: Callable[[int], None] | None = None
    ) -> ImportResult:
        with _cyclic_gc_paused():
            return await self._run(lines, progress)

    async def _run(
        self, lines: Iterable[bytes], progress: Callable[[int], None] | None
    ) -> ImportResult:
        threads: list[ThreadRow] = []
        items: list[ItemRow] = []
        line_of: dict[tuple[str, str], int] = {}
        known_threads: set[str] = set()
        for number, raw in enumerate(lines, start=1):
            if progress is not None:
                progress(len(raw))
            if not raw.strip():
                continue
            data = _parse_line(number, raw)
            kind = data.get("object")
            if kind == "chatkit.thread":
                try:
                    _THREAD.validate_python(data)
                except ValidationError as exc:
                    raise ImportFailed(number, _validation_reason(exc)) from None
                self._claim(line_of, "thread", data["id"], number)
                known_threads.add(data["id"])
                threads.append(
                    ThreadRow(
                        id=data["id"],
                        user=data["user"],
                        created_us=data["created_at"] * 1_000_000,
                        title=data["title"],
                        status=data["status"],
                    )
                )
            elif kind == "chatkit.thread_item":
                try:
                    _ITEM.validate_python(data)
                except ValidationError as exc:
                    raise ImportFailed(number, _validation_reason(exc)) from None
                self._claim(line_of, "item", data["id"], number)
                thread_id = data["thread_id"]
                if thread_id not in known_threads:
                    if await self.store.get_thread(self.project, thread_id) is None:
                        raise ImportFailed(
                            number,
                            f"item '{data['id']}' belongs to thread '{thread_id}', which is "
                            "neither on an earlier line nor stored in the project",
                        )
                    known_threads.add(thread_id)
                items.append(item_row_from_rest(data))
            else:
                raise ImportFailed(
                    number,
                    f"'object' must be 'chatkit.thread' or 'chatkit.thread_item', got {kind!r}",
                )
        try:
            await self.store.import_rows(self.project, threads, items)
        except DuplicateId as exc:
            line = line_of.get((exc.kind, exc.value), 0)
            raise ImportFailed(
                line, f"{exc.kind} id '{exc.value}' already exists in project '{self.project}'"
            ) from None
        return ImportResult(len(threads), len(items))

    @staticmethod
    def _claim(line_of: dict[tuple[str, str], int], kind: str, value: str, number: int) -> None:
        first = line_of.setdefault((kind, value), number)
        if first != number:
            raise ImportFailed(number, f"{kind} id '{value}' already appears on line {first}")


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
