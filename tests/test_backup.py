"""``threadkit backup``: a consistent copy of a SQLite database taken while a writer
process keeps adding items, served as is by a real ``threadkit serve``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import openai
import orjson

from tests import helpers
from tests.conftest import start_server, stop_server, with_store
from tests.test_cli import threadkit
from threadkit.services.keys import KeyService
from threadkit.services.transfer import Importer

WRITER = """
import asyncio, sys, uuid, orjson
from pathlib import Path
from threadkit.stores import SQLiteStore
from threadkit.stores.records import item_row_from_rest

async def main(db, thread_id, ready):
    store = SQLiteStore(db)
    n = 0
    while True:
        item = {"id": f"cthi_{uuid.uuid4().hex}", "object": "chatkit.thread_item",
                "created_at": 1712345601 + n, "thread_id": thread_id,
                "type": "chatkit.assistant_message",
                "content": [{"type": "output_text", "text": "x" * 2000, "annotations": []}]}
        await store.insert_item("default", item_row_from_rest(item))
        n += 1
        if n == 200:
            Path(ready).write_text("ready")

asyncio.run(main(*sys.argv[1:]))
"""


def _count(db: Path, thread_id: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(
            conn.execute("SELECT COUNT(*) FROM items WHERE thread_id = ?", (thread_id,)).fetchone()[
                0
            ]
        )
    finally:
        conn.close()


def test_backup_while_a_writer_adds_items(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    copy = tmp_path / "copy.db"
    ready = tmp_path / "ready"
    t = helpers.thread(user="user_b")
    with_store(str(db), lambda s: Importer(s, "default").run([orjson.dumps(t)]))
    secret = with_store(str(db), lambda s: KeyService(s).create("default")).secret
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), t["id"], str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert writer.poll() is None, "the writer process died"
            assert time.monotonic() < deadline, "the writer never got going"
            time.sleep(0.05)
        result = threadkit("backup", "--out", str(copy), "--db", f"sqlite:///{db}")
        assert writer.poll() is None  # it was writing all along
    finally:
        writer.kill()
        writer.wait()
    assert result.stdout == "" and result.stderr == ""  # quiet when piped
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    copied = _count(copy, t["id"])
    assert 200 <= copied < _count(db, t["id"])  # a snapshot: the writer went on after it

    srv = start_server(f"sqlite:///{copy}", "sqlite", tmp_path)
    try:
        client = openai.OpenAI(api_key=secret, base_url=srv.base_url, max_retries=0)
        assert client.beta.chatkit.threads.retrieve(t["id"]).user == "user_b"
        served = list(client.beta.chatkit.threads.list_items(t["id"], limit=100))
        assert len(served) == copied
    finally:
        stop_server(srv)


def test_backup_of_postgres_points_to_pg_dump(tmp_path: Path) -> None:
    result = threadkit(
        "backup", "--out", str(tmp_path / "x"), "--db", "postgresql://u@127.0.0.1:1/db",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "pg_dump" in result.stderr
    assert not (tmp_path / "x").exists()


def test_backup_of_a_missing_database_fails(tmp_path: Path) -> None:
    result = threadkit(
        "backup", "--out", str(tmp_path / "x"), "--db", f"sqlite:///{tmp_path / 'none.db'}",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "no SQLite database" in result.stderr
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "none.db").exists()
