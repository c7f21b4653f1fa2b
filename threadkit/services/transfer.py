"""Import and export of threads as JSON Lines in the REST shapes.

One object per line: a ``chatkit.thread`` line, then that thread's
``chatkit.thread_item`` lines, oldest first. Export writes exactly the bytes the
REST API serves, so an export imported into an empty database serves the same
responses byte for byte. An import is all or nothing: every line is checked, and
the whole file is stored in one transaction or not at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
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
from threadkit.services.import_workers import ParsingPool, Worker
from threadkit.stores.base import BulkImport, DuplicateId, PageQuery, ThreadStore

__all__ = ["PARSERS", "ImportFailed", "ImportResult", "Importer", "export_lines"]

_PAGE = 100

#: processes parsing a file's chunks beside the importing process, when it has more
#: than one chunk (docs/performance.md: the importing process alone was the bound)
PARSERS = 2


@dataclass(frozen=True, slots=True)
class ImportResult:
    threads: int
    items: int


class Importer:
    """Checks a JSON Lines stream and stores it in one transaction.

    Lines are parsed in chunks, by ``parsers`` processes at once (by this one while
    they start, unless ``parse_while_starting`` is false; by this one alone with
    ``parsers=0``). Each chunk is checked against the file
    so far and handed to the store's ``bulk_import`` in file order as soon as it is
    parsed, so the store can insert one while the next is parsed (the SQLite store
    does, docs/performance.md); a bad line anywhere still stores nothing, and the
    error names the first bad line.
    """

    def __init__(
        self,
        store: ThreadStore,
        project: str,
        *,
        chunk_lines: int = CHUNK_LINES,
        parsers: int = PARSERS,
        parse_while_starting: bool = True,
    ) -> None:
        self.store = store
        self.project = project
        self.chunk_lines = chunk_lines
        self.parsers = parsers
        self.parse_while_starting = parse_while_starting
        self._line_of: dict[tuple[str, str], int] = {}
        self._known_threads: set[str] = set()
        self._threads = self._items = 0

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
        try:
            with cyclic_gc_paused():
                async with self.store.bulk_import(self.project) as sink:
                    await self._store_chunks(iter(chunks), sink)
        except DuplicateId as exc:
            line = self._line_of.get((exc.kind, exc.value), 0)
            raise ImportFailed(
                line, f"{exc.kind} id '{exc.value}' already exists in project '{self.project}'"
            ) from None
        return ImportResult(self._threads, self._items)

    async def _store_chunks(self, chunks: Iterator[Chunk], sink: BulkImport) -> None:
        """Parse chunks (here, or in the pool from the second chunk on) and store their
        results in file order."""
        pool: ParsingPool | None = None
        pending: deque[ParsedChunk | Worker] = deque()  # in file order
        try:
            for n, chunk in enumerate(chunks):
                if n == 1 and self.parsers > 0:
                    pool = ParsingPool(self.parsers, sink.encoder, self.project)
                while True:
                    ready = pool.ready() if pool is not None else []
                    if (worker := ParsingPool.least_busy(ready)) is not None:
                        worker.send(chunk)
                        pending.append(worker)
                        break
                    if not ready and (pool is None or self.parse_while_starting):
                        pending.append(parse_chunk(*chunk))  # no worker (yet)
                        break
                    if not ready:
                        await pool.started()
                        continue
                    await self._store(pending.popleft(), sink, pool)  # every worker busy
                while pending and isinstance(pending[0], ParsedChunk):
                    await self._store(pending.popleft(), sink, pool)
            while pending:
                await self._store(pending.popleft(), sink, pool)
        except BaseException:
            if pool is not None:
                pool.close(abandon=True)
                pool = None
            raise
        finally:
            if pool is not None:
                pool.close(abandon=False)

    async def _store(
        self, entry: ParsedChunk | Worker, sink: BulkImport, pool: ParsingPool | None
    ) -> None:
        """Check one chunk's rows against the file so far, then store them; a chunk that
        stopped at a bad line raises its error once the rows before it passed."""
        if isinstance(entry, ParsedChunk):
            parsed, encoded = entry, None
        else:
            assert pool is not None
            parsed, encoded = await pool.receive(entry)
        await self._check(parsed)
        if parsed.error is not None:
            raise parsed.error
        if encoded is None:
            await sink.add(parsed.threads, parsed.items)
        else:
            await sink.add_encoded(encoded)
        threads = parsed.thread_ids.count(None)
        self._threads += threads
        self._items += len(parsed.ids) - threads

    async def _check(self, parsed: ParsedChunk) -> None:
        """The checks that need the whole file or the store: ids unique in the file, and
        every item's thread on an earlier line or already stored."""
        line_of, known = self._line_of, self._known_threads
        for number, id_, thread_id in zip(
            parsed.numbers, parsed.ids, parsed.thread_ids, strict=True
        ):
            kind = "thread" if thread_id is None else "item"
            first = line_of.setdefault((kind, id_), number)
            if first != number:
                raise ImportFailed(number, f"{kind} id '{id_}' already appears on line {first}")
            if thread_id is None:
                known.add(id_)
            elif thread_id not in known:
                if await self.store.get_thread(self.project, thread_id) is None:
                    raise ImportFailed(
                        number,
                        f"item '{id_}' belongs to thread '{thread_id}', which is "
                        "neither on an earlier line nor stored in the project",
                    )
                known.add(thread_id)


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
