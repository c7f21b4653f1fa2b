"""Imports of many chunks: parsed chunk by chunk, stored batch by batch in one
transaction (on SQLite by a second process). Every failure, wherever it sits in the
file, still stores nothing, and names the first bad line."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import with_store
from tests.helpers import all_item_types, assistant_message, thread
from threadkit.services.import_parse import chunks_of_stream
from threadkit.services.transfer import Importer, ImportFailed, export_lines
from threadkit.stores import ThreadStore

Database = tuple[str, str]
CHUNK = 4  # lines per chunk: the files below span several chunks


def lines_of(objects: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(o) for o in objects]


def threads_with_items(count: int) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for n in range(count):
        t = thread(created_at=1_700_000_000 + n)
        objects += [t, *all_item_types(t["id"])]
    return objects


async def exported(store: ThreadStore, project: str) -> list[bytes]:
    return [line.rstrip(b"\n") async for line in export_lines(store, project)]


def test_a_many_chunk_import_stores_every_line_in_order(database: Database) -> None:
    project = f"proj_{uuid.uuid4().hex[:8]}"
    objects = threads_with_items(5)  # 5 x 7 lines: 9 chunks

    async def work(store: ThreadStore) -> list[bytes]:
        result = await Importer(store, project, chunk_lines=CHUNK).run(lines_of(objects))
        assert (result.threads, result.items) == (5, 30)
        return await exported(store, project)

    assert with_store(database[1], work) == lines_of(objects)


@pytest.mark.parametrize(
    ("spoil", "line", "reason"),
    [
        ("bad_json", 33, "not valid JSON"),
        ("bad_field", 33, "created_at"),
        ("unknown_thread", 33, "cthr_nowhere"),
        ("repeated_id", 33, "already appears on line 2"),
        ("stored_id", 33, "already exists"),
        ("stored_id", 5, "already exists"),  # the helper fails while batches still come
    ],
)
def test_a_bad_line_in_a_late_chunk_stores_nothing(
    database: Database, spoil: str, line: int, reason: str
) -> None:
    project = f"proj_{uuid.uuid4().hex[:8]}"
    stored = thread()
    objects = threads_with_items(5)  # lines 1-35; line `line` is spoiled below
    first_item, spoilt = objects[1], objects[line - 1]
    replacements: dict[str, Any] = {
        "bad_json": b'{"object": "chatkit.thread_item", ',
        "bad_field": {**spoilt, "created_at": "soon"},
        "unknown_thread": assistant_message("cthr_nowhere"),
        "repeated_id": {**spoilt, "id": first_item["id"]},
        "stored_id": {**spoilt, "id": stored["id"], "object": "chatkit.thread"}
        | {k: stored[k] for k in ("status", "title", "user", "created_at")},
    }
    lines = lines_of(objects)
    spoiled = replacements[spoil]
    lines[line - 1] = spoiled if isinstance(spoiled, bytes) else orjson.dumps(spoiled)

    async def work(store: ThreadStore) -> tuple[list[bytes], list[bytes]]:
        await Importer(store, project).run(lines_of([stored]))
        before = await exported(store, project)
        with pytest.raises(ImportFailed) as caught:
            await Importer(store, project, chunk_lines=CHUNK).run(lines)
        assert caught.value.line == line, caught.value
        assert reason in caught.value.reason, caught.value
        for t in objects[::7]:  # not one thread of the file, from any chunk
            assert await store.get_thread(project, t["id"]) is None
        # the store is usable at once, and the fixed file goes in whole
        fixed = lines_of(objects)
        await Importer(store, project, chunk_lines=CHUNK).run(fixed)
        return before, await exported(store, project)

    before, after = with_store(database[1], work)
    assert before == lines_of([stored])
    assert sorted(after) == sorted(before + lines_of(objects))


def test_items_may_follow_threads_from_earlier_chunks_or_stored_ones(database: Database) -> None:
    project = f"proj_{uuid.uuid4().hex[:8]}"
    old = thread(created_at=1_600_000_000)
    new = thread(created_at=1_700_000_000)
    later = [
        new,
        *(assistant_message(new["id"], created_at=1_700_000_000 + n) for n in range(6)),
        *(assistant_message(old["id"], created_at=1_600_000_000 + n) for n in range(6)),
    ]

    async def work(store: ThreadStore) -> list[bytes]:
        await Importer(store, project).run(lines_of([old]))
        await Importer(store, project, chunk_lines=CHUNK).run(lines_of(later))
        return await exported(store, project)

    old_items = [o for o in later if o.get("thread_id") == old["id"]]
    new_items = [o for o in later if o.get("thread_id") == new["id"]]
    assert with_store(database[1], work) == lines_of([old, *old_items, new, *new_items])


def test_a_stored_id_early_in_a_long_file_stores_nothing(database: Database) -> None:
    """The insert of an early batch fails while hundreds of batches are still to come
    (on SQLite: the helper process stops and the importer hears of it before the end)."""
    project = f"proj_{uuid.uuid4().hex[:8]}"
    stored = thread()
    objects = threads_with_items(300)  # 2,100 lines: 525 chunks
    clash = {**objects[4], "id": stored["id"], "object": "chatkit.thread"} | {
        k: stored[k] for k in ("status", "title", "user", "created_at")
    }
    lines = lines_of(objects)
    lines[4] = orjson.dumps(clash)

    async def work(store: ThreadStore) -> int:
        await Importer(store, project).run(lines_of([stored]))
        with pytest.raises(ImportFailed) as caught:
            await Importer(store, project, chunk_lines=CHUNK).run(lines)
        assert caught.value.line == 5, caught.value
        assert "already exists" in caught.value.reason, caught.value
        for t in objects[::7]:
            assert await store.get_thread(project, t["id"]) is None
        result = await Importer(store, project, chunk_lines=CHUNK).run(lines_of(objects))
        return result.threads

    assert with_store(database[1], work) == 300


@pytest.mark.parametrize(
    ("spoils", "line", "reason"),
    [
        ({30: "repeated_id", 31: "bad_json"}, 30, "already appears on line 2"),
        ({30: "bad_json", 31: "repeated_id"}, 30, "not valid JSON"),
        ({30: "unknown_thread", 32: "bad_field"}, 30, "cthr_nowhere"),
        ({30: "bad_field", 31: "unknown_thread"}, 30, "created_at"),
    ],
)
def test_the_first_bad_line_is_named_whatever_the_later_ones(
    database: Database, spoils: dict[int, str], line: int, reason: str
) -> None:
    """Lines 29-32 are one chunk: a failure of the checks across the file and a failure
    of a line on its own, in either order, in one chunk."""
    project = f"proj_{uuid.uuid4().hex[:8]}"
    objects = threads_with_items(5)
    lines = lines_of(objects)
    for at, spoil in spoils.items():
        spoilt = objects[at - 1]
        replacement = {
            "bad_json": b"[1, 2",
            "bad_field": orjson.dumps({**spoilt, "created_at": "soon"}),
            "unknown_thread": orjson.dumps(assistant_message("cthr_nowhere")),
            "repeated_id": orjson.dumps({**spoilt, "id": objects[1]["id"]}),
        }[spoil]
        lines[at - 1] = replacement

    async def work(store: ThreadStore) -> list[bytes]:
        with pytest.raises(ImportFailed) as caught:
            await Importer(store, project, chunk_lines=CHUNK).run(lines)
        assert caught.value.line == line, caught.value
        assert reason in caught.value.reason, caught.value
        return await exported(store, project)

    assert with_store(database[1], work) == []


def test_chunks_of_a_file_keep_line_numbers(tmp_path: Path) -> None:
    """Reading a file in blocks: lines split across blocks, a line longer than a block,
    CRLF endings, blank lines and no newline at the end."""
    long = b'{"x": "' + b"y" * 50 + b'"}'
    text = b"a1\r\nb2\n\n" + long + b"\nc3\r\nd4"
    path = tmp_path / "f.jsonl"
    path.write_bytes(text)
    expected = text.split(b"\n")
    for size in (1, 3, 7, 16, 1 << 20):
        with path.open("rb") as stream:
            chunks = list(chunks_of_stream(stream, size))
        numbered = [(first + n, line) for first, lines in chunks for n, line in enumerate(lines)]
        assert numbered == list(enumerate(expected, start=1)), size


def test_a_file_with_crlf_endings_imports_through_the_cli_path(database: Database) -> None:
    project = f"proj_{uuid.uuid4().hex[:8]}"
    objects = threads_with_items(3)
    data = b"\r\n".join(lines_of(objects)) + b"\r\n\r\n"

    async def work(store: ThreadStore) -> list[bytes]:
        result = await Importer(store, project).run_stream(io.BytesIO(data))
        assert (result.threads, result.items) == (3, 18)
        return await exported(store, project)

    assert with_store(database[1], work) == lines_of(objects)
