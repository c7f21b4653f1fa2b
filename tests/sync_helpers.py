"""Helpers of the ``threadkit sync`` tests: running it, reading its summary, the source's
data, and comparing what the source and the copy serve."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import Server, with_store
from tests.helpers import all_item_types, assistant_message, thread, widget
from threadkit.stores import ThreadStore
from threadkit.stores.records import PageQuery

#: the project read at a source server of a test's own
SOURCE_PROJECT = "upstream"
SUMMARY = re.compile(
    r"(\d+) threads new, (\d+) updated, (\d+) unchanged(?:, (\d+) gone)?; (\d+) items copied"
)


@dataclass
class Source:
    """A threadkit server that a test syncs from, and the project it reads there (the
    tests of a module share one source server, each in a project of its own)."""

    server: Server
    project: str = SOURCE_PROJECT

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def db(self) -> str:
        return self.server.db

    def key(self) -> str:
        return self.server.key(self.project)

    def seed(self, objects: list[dict[str, Any]]) -> None:
        self.server.seed(self.project, objects)

    def http(self) -> httpx.Client:
        return self.server.http(self.project)


def sync_command(url: str, key: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "threadkit", "sync", "--from", url, "--api-key", key, *args]


def sync(
    source_url: str, key: str, project: str, db: str, *extra: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        sync_command(source_url, key, "--project", project, "--db", db, *extra),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"threadkit sync failed:\n{result.stdout}\n{result.stderr}")
    return result


def summary(output: str) -> dict[str, int]:
    found = SUMMARY.search(output)
    assert found is not None, output
    new, updated, unchanged, gone, items = found.groups()
    return {
        "new": int(new),
        "updated": int(updated),
        "unchanged": int(unchanged),
        "gone": int(gone or 0),
        "items": int(items),
    }


def message(thread_id: str, n: int, created_at: int = 1_700_000_100) -> dict[str, Any]:
    # groups of 30 share a created_at: their order is the order they were stored in
    return assistant_message(thread_id, f"message {n}", created_at + n // 30)


def corpus() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Threads of three users with ties on ``created_at``, every item type, a thread of
    more than two pages, an empty one, and an item with fields no SDK model knows, its
    keys in an unusual order. Returns the objects and some threads by role."""
    statuses = [{"type": "active"}, {"type": "locked", "reason": "r"}, {"type": "closed"}]
    objects: list[dict[str, Any]] = []
    for i in range(12):
        t = thread(
            user=("ann", "ben", "cy")[i % 3],
            created_at=1_700_000_000 + i // 4,
            title=None if i == 5 else f"thread {i}",
            status=statuses[i % 3],
        )
        objects += [t, *all_item_types(t["id"])]
    big = thread(user="ann", created_at=1_700_000_050, title="big")
    objects += [big, *(message(big["id"], n) for n in range(250))]
    empty = thread(user="ben", created_at=1_700_000_060, title="empty")
    odd = thread(user="cy", created_at=1_700_000_070, title="odd")
    unknown = {
        "type": "chatkit.widget",
        "future": {"z": [1.5, None, "ü"], "a": {}},
        **widget(odd["id"]),
        "also_new": True,
    }
    objects += [empty, odd, unknown]
    return objects, {"big": big, "empty": empty, "odd": odd, "first": objects[0]}


def threads_of(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["object"] == "chatkit.thread"]


def pages(http: httpx.Client, path: str) -> list[bytes]:
    """Every page of a list, following ``last_id``, as the bytes served."""
    bodies, after = [], ""
    while True:
        response = http.get(path + after)
        assert response.status_code == 200, (path, response.text)
        bodies.append(response.content)
        body = response.json()
        if not body["has_more"]:
            return bodies
        after = f"&after={body['last_id']}"


def assert_same_responses(
    source: Source, dest: Server, project: str, thread_ids: list[str], users: tuple[str, ...] = ()
) -> None:
    lists = ["/v1/chatkit/threads?limit=100", "/v1/chatkit/threads?limit=7&order=asc"]
    lists += [f"/v1/chatkit/threads?limit=100&user={u}" for u in users]
    for tid in thread_ids:
        lists += [
            f"/v1/chatkit/threads/{tid}/items?limit=100&order=asc",
            f"/v1/chatkit/threads/{tid}/items?limit=100&order=desc",
        ]
    with source.http() as original, dest.http(project) as copy:
        for path in lists:
            assert pages(original, path) == pages(copy, path), path
        for tid in thread_ids:
            for path in (f"/v1/chatkit/threads/{tid}", f"/v1/chatkit/threads/{tid}?include=items"):
                first, second = original.get(path), copy.get(path)
                assert first.status_code == 200
                assert first.content == second.content, path


def edit_thread(source: Source, thread_id: str, **changes: Any) -> None:
    """Change a thread at the source, as a ChatKit server would (title, status)."""

    async def work(store: ThreadStore) -> None:
        row = await store.get_thread(source.project, thread_id)
        assert row is not None
        await store.upsert_thread(source.project, dataclasses.replace(row, **changes))

    with_store(source.db, work)


def stored_item_ids(db: str, project: str, thread_id: str) -> list[str]:
    async def work(store: ThreadStore) -> list[str]:
        ids: list[str] = []
        after = None
        while True:
            page = await store.list_items(
                project, thread_id, PageQuery(100, "asc", after), rest_only=False
            )
            ids += [r.id for r in page.rows]
            if not page.has_more:
                return ids
            after = page.rows[-1].id

    return with_store(db, work)
