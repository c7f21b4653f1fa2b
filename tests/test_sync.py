"""``threadkit sync``, run as a real process: from a second threadkit server on loopback
(a fresh SQLite file per test) or from a stand-in that fails on cue, into a project of
its own in the per-backend database, compared byte for byte through the REST API."""

from __future__ import annotations

import os
import pty
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, serving, start_server, stop_server, with_store
from tests.helpers import all_item_types, thread, user_message, widget
from tests.rest_stand_in import API_KEY, start_rest_stand_in, stop_rest_stand_in
from tests.sync_helpers import (
    Source,
    assert_same_responses,
    corpus,
    edit_thread,
    message,
    stored_item_ids,
    summary,
    sync,
    sync_command,
    threads_of,
)


@pytest.fixture(scope="module")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The source threadkit server of the module's tests, on a SQLite file of its own."""
    folder = tmp_path_factory.mktemp("sync-source")
    with serving(start_server(f"sqlite:///{folder / 'source.db'}", "sqlite", folder)) as srv:
        yield srv


@pytest.fixture
def source(source_server: Server) -> Source:
    """The source server, read in a project of this test's own."""
    return Source(source_server, f"upstream_{uuid.uuid4().hex[:10]}")


# --- copying, then only what is new -------------------------------------------------------


def test_sync_copies_byte_for_byte_then_only_what_is_new_or_changed(
    server: Server, project: str, source: Source
) -> None:
    objects, some = corpus()
    source.seed(objects)
    key = source.key()
    threads = threads_of(objects)

    first = sync(source.base_url, key, project, server.db)
    assert first.stderr == ""  # no progress when not on a terminal
    assert summary(first.stdout) == {
        "new": len(threads),
        "updated": 0,
        "unchanged": 0,
        "gone": 0,
        "items": len(objects) - len(threads),
    }
    assert_same_responses(source, server, project, [t["id"] for t in threads], ("ann", "cy"))

    # Between runs: the big thread grows past another page boundary, the empty one gets
    # its first item, two threads are new (one tied with the oldest), one is renamed and
    # one closed.
    big, empty, first_thread = some["big"]["id"], some["empty"]["id"], some["first"]["id"]
    new_threads = [thread(user="ann", created_at=1_700_000_000), thread(created_at=1_800_000_000)]
    added = [
        *(message(big, n) for n in range(250, 370)),
        user_message(empty, created_at=1_700_000_061),
        *all_item_types(new_threads[1]["id"]),
    ]
    source.seed([*new_threads, *added])
    renamed, closed = threads[1]["id"], threads[3]["id"]
    edit_thread(source, renamed, title="a new title")
    edit_thread(source, closed, status={"type": "closed", "reason": "done"})

    second = sync(source.base_url, key, project, server.db)
    assert summary(second.stdout) == {
        "new": 2,
        "updated": 4,
        "unchanged": len(threads) - 4,
        "gone": 0,
        "items": len(added),
    }
    everything = [t["id"] for t in threads + new_threads]
    assert_same_responses(source, server, project, everything, ("ann", "ben"))
    assert stored_item_ids(server.db, project, first_thread) == [
        o["id"] for o in objects if o.get("thread_id") == first_thread
    ]

    third = sync(source.base_url, key, project, server.db)
    assert summary(third.stdout) == {
        "new": 0,
        "updated": 0,
        "unchanged": len(everything),
        "gone": 0,
        "items": 0,
    }


def test_sync_of_one_users_threads(server: Server, project: str, source: Source) -> None:
    objects, _ = corpus()
    source.seed(objects)
    # a bare host:port as --from gets the API's path
    result = sync(source.url, source.key(), project, server.db, "--user", "ben")
    assert f"from {source.base_url}:" in result.stdout
    bens = [t for t in threads_of(objects) if t["user"] == "ben"]
    assert summary(result.stdout)["new"] == len(bens)
    with source.http() as original, server.http(project) as copy:
        path = "/v1/chatkit/threads?limit=100"
        assert copy.get(path).content == original.get(path + "&user=ben").content


def test_stored_threads_without_a_usable_cursor_get_only_the_missing_items(
    server: Server, project: str, source: Source
) -> None:
    t = thread(user="ann")
    items = [message(t["id"], n) for n in range(140)]
    source.seed([t, *items])
    server.seed(project, [t, *items[:30]])  # imported before: no cursor yet
    key = source.key()
    assert summary(sync(source.base_url, key, project, server.db).stdout)["items"] == 110
    assert_same_responses(source, server, project, [t["id"]])

    # The item the cursor names is deleted at the source, then the thread grows.
    with_store(source.db, lambda s: s.delete_item(source.project, t["id"], items[-1]["id"]))
    more = [message(t["id"], n) for n in range(140, 145)]
    source.seed(more)
    result = sync(source.base_url, key, project, server.db)
    assert summary(result.stdout) | {"unchanged": 0} == {
        "new": 0,
        "updated": 1,
        "unchanged": 0,
        "gone": 0,
        "items": 5,
    }
    # the deleted item stays in the copy; nothing else differs, nothing is repeated
    assert stored_item_ids(server.db, project, t["id"]) == [i["id"] for i in items + more]


@pytest.mark.parametrize("clash", ["thread", "item"])
def test_an_id_taken_here_stops_the_sync_naming_it(
    server: Server, project: str, source: Source, clash: str
) -> None:
    first, second = thread(created_at=1_700_000_000), thread(user="ann", created_at=1_700_000_001)
    items = [widget(first["id"]), widget(second["id"]), widget(second["id"])]
    source.seed([first, items[0], second, *items[1:]])
    if clash == "thread":  # the same thread id, another user's thread here
        server.seed(project, [{**second, "user": "bob"}])
        expected = f"thread id '{second['id']}' is another user's thread in project"
    else:  # an item of another thread here has the id of the second's last item
        other = thread()
        server.seed(project, [other, {**items[2], "thread_id": other["id"]}])
        expected = f"item id '{items[2]['id']}' already exists in project"
    result = sync(source.base_url, source.key(), project, server.db, check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert summary(result.stderr)["new"] == 1
    assert stored_item_ids(server.db, project, first["id"]) == [items[0]["id"]]
    assert stored_item_ids(server.db, project, second["id"]) == []  # nothing of its step


# --- an interrupted run -----------------------------------------------------------------------


def test_a_run_interrupted_by_the_source_going_away_resumes_without_duplicates(
    server: Server, project: str, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'source.db'}"
    source = Source(start_server(db, "sqlite", tmp_path))  # a server of its own: it is stopped
    try:
        _interrupt_then_resume(source, server, project, tmp_path)
    finally:
        stop_server(source.server)


def _interrupt_then_resume(source: Source, dest: Server, project: str, tmp_path: Path) -> None:
    objects: list[dict[str, Any]] = []
    for i in range(600):
        t = thread(user=f"u{i % 5}", created_at=1_700_000_000 + i // 3)
        n = 130 if i % 10 == 0 else 3  # every tenth thread spans two pages of items
        objects += [t, *(message(t["id"], k) for k in range(n))]
    source.seed(objects)
    threads = threads_of(objects)
    key = source.key()
    watched = threads[250]["id"]  # on the third page of threads

    run = subprocess.Popen(
        sync_command(
            source.base_url, key, "--project", project, "--db", dest.db, "--max-retries", "0"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while with_store(dest.db, lambda s: s.get_thread(project, watched)) is None:
            assert run.poll() is None, "the sync finished before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        stop_server(source.server)  # the source goes away in the middle of the run
        err = run.communicate(timeout=120)[1]
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0
    assert "cannot reach the source" in err and "the same command goes on from there" in err, err
    interrupted = summary(err)
    assert 250 <= interrupted["new"] < len(threads)

    # What is stored is consistent: each thread holds the first of its items, in order.
    by_thread: dict[str, list[str]] = {}
    for o in objects:
        if o["object"] == "chatkit.thread_item":
            by_thread.setdefault(o["thread_id"], []).append(o["id"])
    copied = 0
    for t in threads[: interrupted["new"] + 1]:
        ids = stored_item_ids(dest.db, project, t["id"])
        assert ids == by_thread[t["id"]][: len(ids)]
        copied += len(ids)
    assert copied == interrupted["items"]

    # The source is back on the same address; the same command goes on.
    port = int(source.url.rpartition(":")[2])
    source.server.process = start_server(source.db, "sqlite", tmp_path, port=port).process
    resumed = sync(source.base_url, key, project, dest.db)
    assert "resumed an unfinished run" in resumed.stdout
    counts = summary(resumed.stdout)
    # the pages of threads finished before are not listed again
    assert counts["new"] + counts["updated"] + counts["unchanged"] <= len(threads) - 200
    # at most the one thread cut off in the middle of its items is completed
    assert counts["updated"] <= 1
    assert interrupted["new"] + counts["new"] + counts["updated"] == len(threads)
    assert interrupted["items"] + counts["items"] == len(objects) - len(threads)
    assert_same_responses(source, dest, project, [t["id"] for t in threads[::7]])

    final = sync(source.base_url, key, project, dest.db)
    assert "resumed" not in final.stdout
    assert summary(final.stdout)["unchanged"] == len(threads)


# --- the source's errors ----------------------------------------------------------------------


def test_429_and_5xx_are_retried_honouring_retry_after(
    database: tuple[str, str], project: str
) -> None:
    t = thread(user="ann")
    items = all_item_types(t["id"])
    stand_in = start_rest_stand_in([t], {t["id"]: items})
    listing, item_path = "/v1/chatkit/threads", f"/v1/chatkit/threads/{t['id']}/items"
    stand_in.failures = {
        listing: [(429, {"retry-after": "1"}), (503, {"retry-after": "0.2"})],
        item_path: [(500, {}), (502, {})],
    }
    try:
        result = sync(stand_in.base_url, API_KEY, project, database[1], "--max-retries", "2")
    finally:
        stop_rest_stand_in(stand_in)
    assert summary(result.stdout) == {"new": 1, "updated": 0, "unchanged": 0, "gone": 0, "items": 6}
    assert stand_in.statuses(listing) == [429, 503, 200]
    assert stand_in.statuses(item_path) == [500, 502, 200]
    times = [at for at, path, _ in stand_in.requests if path == listing]
    assert times[1] - times[0] >= 1.0  # the source's retry-after, not the SDK's 0.5 s backoff
    assert stored_item_ids(database[1], project, t["id"]) == [i["id"] for i in items]


def test_retries_run_out_with_a_clear_message_and_a_consistent_copy(
    database: tuple[str, str], project: str
) -> None:
    a, b = thread(created_at=1_700_000_000), thread(created_at=1_700_000_001)
    stand_in = start_rest_stand_in([a, b], {a["id"]: [widget(a["id"])], b["id"]: [widget(b["id"])]})
    stand_in.failures = {f"/v1/chatkit/threads/{b['id']}/items": [(503, {})] * 3}
    try:
        result = sync(
            stand_in.base_url, API_KEY, project, database[1], "--max-retries", "2", check=False
        )
    finally:
        stop_rest_stand_in(stand_in)
    assert result.returncode != 0
    assert f"listing the items of thread '{b['id']}': the source answered 503" in result.stderr
    assert summary(result.stderr) == {"new": 1, "updated": 0, "unchanged": 0, "gone": 0, "items": 1}
    assert with_store(database[1], lambda s: s.get_thread(project, b["id"])) is None
    assert stored_item_ids(database[1], project, a["id"]) == [stand_in.items[a["id"]][0]["id"]]


def test_threads_gone_at_the_source_are_skipped(database: tuple[str, str], project: str) -> None:
    """A thread deleted there between the listing and its items is skipped; a resume
    point naming a thread deleted there starts the run over."""
    kept, gone = thread(created_at=1_700_000_000), thread(created_at=1_700_000_001)
    stand_in = start_rest_stand_in([kept, gone], {kept["id"]: [widget(kept["id"])]})
    db = database[1]
    with_store(db, lambda s: s.set_sync_resume_point(project, stand_in.base_url, None, "cthr_x"))
    try:
        result = sync(stand_in.base_url, API_KEY, project, db)
    finally:
        stop_rest_stand_in(stand_in)
    assert "resumed" not in result.stdout
    assert summary(result.stdout) == {"new": 1, "updated": 0, "unchanged": 0, "gone": 1, "items": 1}
    assert stand_in.statuses("/v1/chatkit/threads") == [400, 200]
    assert with_store(db, lambda s: s.get_thread(project, gone["id"])) is None
    assert with_store(db, lambda s: s.sync_resume_point(project, stand_in.base_url, None)) is None


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("key", "the source answered 401 (Incorrect API key provided"),
        ("path", "the source answered 404"),
        ("port", "cannot reach the source"),
    ],
)
def test_errors_that_retrying_does_not_fix_stop_with_a_clear_message(
    server: Server, project: str, source: Source, case: str, expected: str
) -> None:
    t = thread()
    source.seed([t])
    key, url = source.key(), source.base_url
    if case == "key":
        key = "sk-wrong"
    elif case == "path":
        url = source.url + "/v2"
    else:
        url = source.url.rpartition(":")[0] + ":1/v1"
    result = sync(url, key, project, server.db, "--max-retries", "0", check=False)
    assert result.returncode != 0
    assert expected in result.stderr and "nothing was copied" in result.stderr, result.stderr
    if case == "path":
        assert "base URL" in result.stderr
    assert with_store(server.db, lambda s: s.get_thread(project, t["id"])) is None


# --- on a terminal ----------------------------------------------------------------------------


def test_progress_on_a_terminal(tmp_path: Path, source: Source) -> None:
    t = thread()
    source.seed([t, *(message(t["id"], n) for n in range(150))])
    key = source.key()
    controller, terminal = pty.openpty()
    shown = bytearray()
    reader = threading.Thread(target=_drain, args=(controller, shown), daemon=True)
    reader.start()
    try:
        result = subprocess.run(
            sync_command(source.base_url, key, "--db", f"sqlite:///{tmp_path / 'c.db'}"),
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "160"},
        )
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    assert result.returncode == 0
    assert summary(result.stdout)["items"] == 150
    assert b"syncing" in shown and b"items/s" in shown, bytes(shown)


def _drain(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        into += chunk
