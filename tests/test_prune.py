"""Maintenance: the store's bounded prune steps on both backends, the maintenance service,
``threadkit prune`` and the background task of a real server."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from tests import helpers
from tests.conftest import Server, start_server, stop_server, with_store
from tests.test_cli import threadkit
from threadkit.attachments.local import LocalFileStorage
from threadkit.config import MaintenanceSettings, maintenance_settings
from threadkit.services.maintenance import Maintenance
from threadkit.stores import ThreadStore
from threadkit.stores.maintenance import Cursor
from threadkit.stores.records import FeedbackRow, ItemRow, SessionRow, ThreadRow

Database = tuple[str, str]
DAY_US = 86_400 * 1_000_000


def _project() -> str:
    return f"prune_{uuid.uuid4().hex[:10]}"


def _session(project: str, expires_at: int, cancelled_at: int | None = None) -> SessionRow:
    return SessionRow(
        id=f"cksess_{uuid.uuid4().hex}",
        project=project,
        user="u",
        secret_hint="ck_...x",
        created_at=expires_at - 600,
        expires_at=expires_at,
        workflow={"id": "echo"},
        rate_limit=10,
        configuration={},
        cancelled_at=cancelled_at,
    )


async def _walk_sessions(store: ThreadStore, before: int, dry_run: bool) -> tuple[Counter, int]:
    counts: Counter[str] = Counter()
    cursor: Cursor | None = None
    steps = 0
    while True:
        step = await store.prune_sessions(before, cursor, 2, dry_run=dry_run)
        counts.update(step.counts)
        steps += 1
        if (cursor := step.cursor) is None:
            return counts, steps


def test_prune_sessions_removes_ended_ones_and_their_rate_limit_rows(
    fresh_database: Database,
) -> None:
    # A database of its own: the prune goes over every project's sessions, and the counts
    # below are of the whole database (other tests store sessions that ended long ago).
    project = _project()
    expired, cancelled = _session(project, 1_000), _session(project, 5_000, cancelled_at=1_500)
    live, late = _session(project, 10**10), _session(project, 2_900 + 10**6)

    async def work(store: ThreadStore) -> None:
        for i, row in enumerate((expired, cancelled, live, late)):
            await store.create_session(row, f"hash-{row.id}-{i}")
        # the expired session's window: its total and two buckets
        for at in (1_000_000, 1_000_001, 1_000_100):
            assert await store.take_request_slot(project, expired.id, at, 10, 60_000) is None
        await store.take_request_slot(project, live.id, 1_000_002, 10, 60_000)

        would, steps = await _walk_sessions(store, 3_000, dry_run=True)
        assert steps >= 2  # bounded: two sessions per step
        assert would == Counter(sessions=2, rate_limit_rows=3)
        assert await store.get_session(project, expired.id) is not None

        removed, _ = await _walk_sessions(store, 3_000, dry_run=False)
        assert removed == Counter(sessions=2, rate_limit_rows=3)
        assert await store.get_session(project, expired.id) is None
        assert await store.get_session(project, cancelled.id) is None
        assert await store.get_session(project, live.id) is not None
        assert await store.get_session(project, late.id) is not None
        again, _ = await _walk_sessions(store, 3_000, dry_run=False)
        assert again == Counter(sessions=0, rate_limit_rows=0)

    with_store(fresh_database[1], work)


def _thread(project_time_us: int, user: str = "u") -> ThreadRow:
    return ThreadRow(
        id=f"cthr_{uuid.uuid4().hex}",
        user=user,
        created_us=project_time_us,
        title="t",
        status={"type": "active"},
    )


def _item(thread: ThreadRow, created_us: int) -> ItemRow:
    data = helpers.user_message(thread.id, created_at=created_us // 1_000_000)
    return ItemRow(
        id=data["id"],
        thread_id=thread.id,
        created_us=created_us,
        shape="rest",
        rest_type=data["type"],
        payload=orjson.dumps(data).decode(),
    )


def test_prune_threads_by_last_activity(database: Database) -> None:
    project = _project()
    now = 1_000 * DAY_US
    cutoff = now - 30 * DAY_US
    stale, revived, fresh, bare = (
        _thread(now - 90 * DAY_US),
        _thread(now - 90 * DAY_US),
        _thread(now - DAY_US),
        _thread(now - 40 * DAY_US),
    )
    items = [
        _item(stale, now - 89 * DAY_US),
        _item(stale, now - 60 * DAY_US),
        _item(revived, now - 80 * DAY_US),
        _item(revived, now - 2 * DAY_US),  # active since the cutoff: kept
        _item(fresh, now - DAY_US),
    ]

    async def walk(store: ThreadStore, dry_run: bool) -> tuple[Counter, list]:
        counts: Counter[str] = Counter()
        files: list[tuple[str, str]] = []
        cursor: Cursor | None = None
        while True:
            step = await store.prune_threads(project, cutoff, cursor, 1, dry_run=dry_run)
            counts.update(step.counts)
            files += step.files
            if (cursor := step.cursor) is None:
                return counts, files

    async def work(store: ThreadStore) -> None:
        await store.import_rows(project, [stale, revived, fresh, bare], items)
        await store.put_feedback(project, [FeedbackRow(stale.id, items[0].id, "u", "positive", 1)])
        await store.put_attachment(project, "cfile_stale", "u", stale.id, '{"id":"cfile_stale"}')
        await store.put_attachment(project, "cfile_fresh", "u", fresh.id, '{"id":"cfile_fresh"}')
        assert project in await store.thread_projects()

        expected = Counter(threads=2, items=2, feedback=1, attachments=1)
        would, files = await walk(store, dry_run=True)
        assert would == expected and files == []
        assert await store.get_thread(project, stale.id) is not None

        removed, files = await walk(store, dry_run=False)
        assert removed == expected
        assert files == [(project, "cfile_stale")]
        assert await store.get_thread(project, stale.id) is None
        assert await store.get_thread(project, bare.id) is None
        assert await store.get_item(project, stale.id, items[1].id) is None
        assert await store.get_attachment(project, "cfile_stale") is None
        assert await store.list_feedback(project) == []
        for kept in (revived, fresh):
            assert await store.get_thread(project, kept.id) is not None
        assert await store.get_attachment(project, "cfile_fresh") is not None
        assert (await walk(store, dry_run=False))[0]["threads"] == 0

    with_store(database[1], work)


def test_remove_attachments_only_while_unchanged(database: Database) -> None:
    project = _project()

    async def work(store: ThreadStore) -> None:
        for name in ("a", "b", "c"):
            await store.put_attachment(project, f"cfile_{name}", "u", None, f'{{"n":"{name}"}}')
        seen = []
        cursor: Cursor | None = None
        while True:
            records, cursor = await store.scan_attachments(cursor, 2)
            seen += [r for r in records if r.project == project]
            if cursor is None:
                break
        assert [r.id for r in seen] == ["cfile_a", "cfile_b", "cfile_c"]
        assert seen[0].payload == '{"n":"a"}'
        # b changes after it was read: it stays
        await store.put_attachment(project, "cfile_b", "u", None, '{"n":"b","uploaded":true}')
        removed = await store.remove_attachments_unchanged(seen[:2])
        assert [r.id for r in removed] == ["cfile_a"]
        assert await store.get_attachment(project, "cfile_a") is None
        assert await store.get_attachment(project, "cfile_b") is not None
        assert await store.remove_attachments_unchanged(seen[:1]) == []

    with_store(database[1], work)


def _upload(attachment_id: str, *, uploaded: bool, created_at: int | None) -> str:
    meta: dict[str, Any] = {"size": 3, "uploaded": uploaded, "session": None}
    if created_at is not None:
        meta["created_at"] = created_at
    return orjson.dumps(
        {
            "id": attachment_id,
            "type": "file",
            "name": "a.txt",
            "mime_type": "text/plain",
            "metadata": meta,
        }
    ).decode()


def test_unfinished_uploads_go_with_their_bytes(database: Database, tmp_path: Path) -> None:
    project = _project()
    files = LocalFileStorage(str(tmp_path / "files"))
    now = time.time()
    old, recent = int(now) - 2 * 86_400, int(now) - 60
    cases = {
        "cfile_abandoned": _upload("cfile_abandoned", uploaded=False, created_at=old),
        "cfile_done": _upload("cfile_done", uploaded=True, created_at=old),
        "cfile_underway": _upload("cfile_underway", uploaded=False, created_at=recent),
    }

    async def work(store: ThreadStore) -> Counter[str]:
        for attachment_id, payload in cases.items():
            await store.put_attachment(project, attachment_id, "u", None, payload)
            writer = await files.writer(project, attachment_id)
            await writer.write(b"abc")
            await writer.commit()
        maintenance = Maintenance(store, files, MaintenanceSettings(batch_size=2))
        assert (await maintenance.prune_uploads(now, dry_run=True))["uploads"] >= 1
        assert await store.get_attachment(project, "cfile_abandoned") is not None
        counts = await maintenance.prune_uploads(now)
        for kept in ("cfile_done", "cfile_underway"):
            assert await store.get_attachment(project, kept) is not None
            assert await files.size(project, kept) == 3
        assert await store.get_attachment(project, "cfile_abandoned") is None
        assert await files.size(project, "cfile_abandoned") is None
        return counts

    assert with_store(database[1], work)["uploads"] >= 1


def test_retention_settings_shape() -> None:
    data = {
        "maintenance": {"interval_seconds": 60, "batch_size": 100},
        "retention": {"default_days": 90, "projects": {"acme": 30, "archive": 0}},
    }
    settings = maintenance_settings(data, environ={})
    assert settings.interval_seconds == 60 and settings.batch_size == 100
    assert settings.retention_for("acme") == 30
    assert settings.retention_for("archive") is None  # kept forever
    assert settings.retention_for("other") == 90
    assert (
        maintenance_settings({}, environ={"THREADKIT_MAINTENANCE_INTERVAL": "0"}).interval_seconds
        == 0
    )
    for wrong in (
        {"retention": {"default_days": -1}},
        {"retention": {"projects": {"acme": "30"}}},
        {"retention": {"default": 3}},
        {"maintenance": {"batch_size": 0}},
    ):
        with pytest.raises(ValueError):
            maintenance_settings(wrong, environ={})


def _seed_old_and_new(server: Server, project: str) -> tuple[str, str]:
    old = helpers.thread(created_at=int(time.time()) - 40 * 86_400)
    new = helpers.thread(created_at=int(time.time()) - 86_400)
    server.seed(project, [old, helpers.user_message(old["id"], created_at=old["created_at"]), new])
    return old["id"], new["id"]


def test_prune_command_dry_run_then_for_real(server: Server, project: str) -> None:
    old, new = _seed_old_and_new(server, project)
    client = server.client(project)
    args = ("prune", "--older-than", "30", "--project", project, "--db", server.db)
    dry = threadkit(*args, "--dry-run").stdout
    assert dry.startswith("would remove") and ", 1 thread, 1 item," in dry
    assert client.beta.chatkit.threads.retrieve(old).id == old

    done = threadkit(*args).stdout
    assert done.startswith("removed") and ", 1 thread, 1 item," in done
    with pytest.raises(openai.NotFoundError):
        client.beta.chatkit.threads.retrieve(old)
    assert client.beta.chatkit.threads.retrieve(new).id == new
    assert ", 0 threads," in threadkit(*args).stdout


def test_background_retention_of_a_running_server(
    database: Database, tmp_path: Path, project: str
) -> None:
    config = tmp_path / "threadkit.toml"
    config.write_text(
        f'[maintenance]\ninterval_seconds = 1\n\n[retention.projects]\n"{project}" = 30\n'
    )
    srv = start_server(database[1], database[0], tmp_path, "--config", str(config))
    try:
        old, new = _seed_old_and_new(srv, project)
        http = srv.http(project)
        deadline = time.monotonic() + 60
        while http.get(f"/v1/chatkit/threads/{old}").status_code == 200:
            assert time.monotonic() < deadline, "the background task never pruned"
            time.sleep(0.2)
        assert http.get(f"/v1/chatkit/threads/{old}").status_code == 404
        assert http.get(f"/v1/chatkit/threads/{new}").status_code == 200
    finally:
        stop_server(srv)
