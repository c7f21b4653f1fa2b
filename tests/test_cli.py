"""The command line, run as a real process: keys, import, export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openai
import orjson
import pytest

from tests.conftest import MIGRATIONS, Server, start_server, stop_server
from tests.helpers import all_item_types, assistant_message, thread


def threadkit(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "threadkit", *args], capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"threadkit {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def write_jsonl(path: Path, objects: list[dict]) -> bytes:
    data = b"".join(orjson.dumps(o) + b"\n" for o in objects)
    path.write_bytes(data)
    return data


def test_migrate_reports_what_it_applied(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"
    files = sorted(p.stem for p in MIGRATIONS.joinpath("sqlite").glob("*.sql"))
    first = threadkit("migrate", "--db", db).stdout.splitlines()
    assert first == [
        f"sqlite: applied {', '.join(files)}",
        f"sqlite schema is up to date (version {len(files)})",
    ]
    again = threadkit("migrate", "--db", db).stdout.splitlines()
    assert again == [f"sqlite schema is up to date (version {len(files)})"]


def test_keys_create_list_revoke(server: Server, project: str) -> None:
    created = threadkit("keys", "create", "--project", project, "--db", server.db)
    secret = created.stdout.strip().splitlines()[-1]
    assert len(secret) >= 40
    client = openai.OpenAI(api_key=secret, base_url=server.base_url, max_retries=0)
    assert client.beta.chatkit.threads.list().data == []

    listed = threadkit("keys", "list", "--project", project, "--db", server.db).stdout
    key_id = next(word for word in created.stdout.split() if word.startswith("key_"))
    assert key_id in listed
    assert secret not in listed

    threadkit("keys", "revoke", key_id, "--db", server.db)
    with pytest.raises(openai.AuthenticationError):
        client.beta.chatkit.threads.list()
    again = threadkit("keys", "revoke", key_id, "--db", server.db, check=False)
    assert again.returncode != 0 and key_id in again.stderr


def test_export_writes_exactly_what_was_imported(
    server: Server, project: str, tmp_path: Path
) -> None:
    a, b = (
        thread(created_at=1_700_000_000, user="ann"),
        thread(created_at=1_700_000_005, user="ben"),
    )
    objects = [a, *all_item_types(a["id"]), b, assistant_message(b["id"], text="ünï 🙂")]
    source = write_jsonl(tmp_path / "in.jsonl", objects)

    imported = threadkit(
        "import", str(tmp_path / "in.jsonl"), "--project", project, "--db", server.db
    )
    assert "2 threads and 7 items" in imported.stdout
    assert imported.stderr == ""  # no progress bar when not on a terminal

    exported = subprocess.run(
        [sys.executable, "-m", "threadkit", "export", "--project", project, "--db", server.db],
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert exported.stdout == source

    only_ben = threadkit("export", "--project", project, "--user", "ben", "--db", server.db)
    assert [orjson.loads(line)["id"] for line in only_ben.stdout.splitlines()] == [
        b["id"],
        objects[-1]["id"],
    ]


def test_export_then_import_serves_byte_identical_responses(
    server: Server, project: str, tmp_path: Path
) -> None:
    threads = [thread(created_at=1_700_000_000 + i // 4, user=f"u{i % 3}") for i in range(30)]
    objects: list[dict] = []
    for t in threads:
        objects += [t, *all_item_types(t["id"])]
    server.seed(project, objects)
    out = tmp_path / "export.jsonl"
    threadkit("export", "--project", project, "--db", server.db, "--out", str(out))
    copy = project + "_copy"
    threadkit("import", str(out), "--project", copy, "--db", server.db)

    paths = [
        "/v1/chatkit/threads?limit=100",
        "/v1/chatkit/threads?limit=7&order=asc",
        "/v1/chatkit/threads?user=u1",
        f"/v1/chatkit/threads/{threads[5]['id']}",
        f"/v1/chatkit/threads/{threads[5]['id']}?include=items",
        f"/v1/chatkit/threads/{threads[9]['id']}/items?order=asc&limit=4",
    ]
    with server.http(project) as original, server.http(copy) as imported:
        for path in paths:
            first, second = original.get(path), imported.get(path)
            assert first.status_code == 200
            assert first.content == second.content, path


def test_export_import_into_an_empty_sqlite_database(tmp_path: Path) -> None:
    first_db = f"sqlite:///{tmp_path / 'first.db'}"
    second_db = f"sqlite:///{tmp_path / 'second.db'}"
    t = thread()
    write_jsonl(tmp_path / "in.jsonl", [t, *all_item_types(t["id"])])
    threadkit("import", str(tmp_path / "in.jsonl"), "--db", first_db)
    threadkit("export", "--db", first_db, "--out", str(tmp_path / "out.jsonl"))
    threadkit("import", str(tmp_path / "out.jsonl"), "--db", second_db)
    servers = [start_server(db, "sqlite", tmp_path) for db in (first_db, second_db)]
    try:
        bodies = set()
        for srv in servers:
            with srv.http("default") as http:
                bodies.add(http.get(f"/v1/chatkit/threads/{t['id']}/items").content)
                bodies.add(http.get("/v1/chatkit/threads").content)
        assert len(bodies) == 2  # one items page, one thread list: the same from both servers
    finally:
        for srv in servers:
            stop_server(srv)


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"object": "chatkit.session"}', "'object' must be"),
        (
            '{"id":"cthr_z","object":"chatkit.thread","created_at":"yesterday","title":null,'
            '"status":{"type":"active"},"user":"u"}',
            "created_at",
        ),
        (
            '{"id":"cthi_z","object":"chatkit.thread_item","created_at":1,"thread_id":"cthr_nowhere",'
            '"type":"chatkit.widget","widget":"w"}',
            "cthr_nowhere",
        ),
        (
            '{"id":"cthi_z","object":"chatkit.thread_item","created_at":1,"thread_id":"THREAD",'
            '"type":"chatkit.bogus"}',
            "type",
        ),
    ],
)
def test_bad_line_fails_the_whole_import(
    server: Server, project: str, tmp_path: Path, bad_line: str, reason: str
) -> None:
    t = thread()
    good = b"".join(orjson.dumps(o) + b"\n" for o in [t, *all_item_types(t["id"])])
    path = tmp_path / "bad.jsonl"
    path.write_bytes(good + bad_line.replace("THREAD", t["id"]).encode() + b"\n")
    result = threadkit("import", str(path), "--project", project, "--db", server.db, check=False)
    assert result.returncode != 0
    assert "line 8" in result.stderr and reason in result.stderr, result.stderr
    # nothing of that file was stored
    with pytest.raises(openai.NotFoundError):
        server.client(project).beta.chatkit.threads.retrieve(t["id"])


def test_import_refuses_ids_already_stored(server: Server, project: str, tmp_path: Path) -> None:
    t = thread()
    server.seed(project, [t])
    fresh = thread()
    path = tmp_path / "dup.jsonl"
    write_jsonl(path, [fresh, *all_item_types(fresh["id"]), t])
    result = threadkit("import", str(path), "--project", project, "--db", server.db, check=False)
    assert result.returncode != 0
    assert "line 8" in result.stderr and t["id"] in result.stderr
    with pytest.raises(openai.NotFoundError):
        server.client(project).beta.chatkit.threads.retrieve(fresh["id"])

    repeated = tmp_path / "repeated.jsonl"
    item = assistant_message(fresh["id"])
    write_jsonl(repeated, [fresh, item, item])
    result = threadkit(
        "import", str(repeated), "--project", project, "--db", server.db, check=False
    )
    assert result.returncode != 0 and "line 3" in result.stderr and "line 2" in result.stderr
