"""Import and export of threads as JSON Lines in the REST shapes.

One object per line: a ``chatkit.thread`` line, then that thread's
``chatkit.thread_item`` lines, oldest first. Export writes exactly the bytes the
REST API serves, so an export imported into an empty database serves the same
responses byte for byte. An import is all or nothing: every line is checked, and
the whole file is stored in one transaction or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

import orjson

from threadkit.services.import_parse import (
    CHUNK_LINES,
    Chunk,
    ImportFailed,
    ParsedChunk,
    chunks_of_lines,
    chunks_of_stream,
    cyclic_gc_paused,
    parse_chunk,
)
from threadkit.stores import ThreadStore
from threadkit.stores.errors import DuplicateId
from threadkit.stores.records import PageQuery, ThreadRow

__all__ = ["ImportFailed", "ImportResult", "Importer", "export_lines"]

_PAGE = 100


@dataclass(frozen=True, slots=True)
class ImportResult:
    threads: int
    items: int


class Importer:
    """Checks a JSON Lines stream and stores it in one transaction.

    Lines are parsed in chunks, each checked against the file so far and handed to the
    store's ``bulk_import`` as soon as it is parsed, so the store can insert one while
    the next is parsed (the SQLite store does, docs/performance.md). A bad line
    anywhere still stores nothing, and the error names the first bad line.
    """

    def __init__(self, store: ThreadStore, project: str, *, chunk_lines: int = CHUNK_LINES):
        self.store = store
        self.project = project
        self.chunk_lines = chunk_lines
        # line of each id seen so far, by kind: for the checks, and to name the line of
        # an id the store refuses
        self._line_of: dict[str, dict[str, int]] = {"thread": {}, "item": {}}
        self._known_threads: set[str] = set()

    async def run(
        self, lines: Iterable[bytes], progress: Callable[[int], None] | None = None
    ) -> ImportResult:
        """Import lines given one by one, without their line endings."""
        return await self.run_chunks(chunks_of_lines(lines, self.chunk_lines, progress))

    async def run_stream(
        self, stream: BinaryIO, progress: Callable[[int], None] | None = None
    ) -> ImportResult:
        """Import a binary file; ``progress`` is called with each count of bytes read."""
        return await self.run_chunks(chunks_of_stream(stream, progress=progress))

    async def run_chunks(self, chunks: Iterable[Chunk]) -> ImportResult:
        threads = items = 0
        try:
            with cyclic_gc_paused():
                async with self.store.bulk_import(self.project) as sink:
                    for chunk in chunks:
                        parsed = parse_chunk(*chunk)
                        await self._check(parsed)
                        if parsed.error is not None:
                            raise parsed.error
                        await sink.add(parsed.threads, parsed.items)
                        threads += len(parsed.threads)
                        items += len(parsed.items)
        except DuplicateId as exc:
            line = self._line_of.get(exc.kind, {}).get(exc.value, 0)
            raise ImportFailed(
                line, f"{exc.kind} id '{exc.value}' already exists in project '{self.project}'"
            ) from None
        return ImportResult(threads, items)

    async def _check(self, parsed: ParsedChunk) -> None:
        """The checks that need the whole file or the store: ids unique in the file, and
        every item's thread on an earlier line or already stored. Only the rows before
        the chunk's first bad line are parsed, so the first failure raised here or by
        the caller is the file's first bad line."""
        known = self._known_threads
        for number, row in parsed.rows:
            kind = "thread" if isinstance(row, ThreadRow) else "item"
            first = self._line_of[kind].setdefault(row.id, number)
            if first != number:
                raise ImportFailed(number, f"{kind} id '{row.id}' already appears on line {first}")
            if isinstance(row, ThreadRow):
                known.add(row.id)
            elif row.thread_id not in known:
                if await self.store.get_thread(self.project, row.thread_id) is None:
                    raise ImportFailed(
                        number,
                        f"item '{row.id}' belongs to thread '{row.thread_id}', which is "
                        "neither on an earlier line nor stored in the project",
                    )
                known.add(row.thread_id)


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
