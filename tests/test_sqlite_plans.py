"""Every SQLite query on the request paths uses an index: no table scan, no sort; a
page of one user's threads, and a thread retrieved by id, read an index alone.

The statements are captured from the real store while it serves real calls
(``sqlite3`` trace callback), then each is run through ``EXPLAIN QUERY PLAN``.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import orjson

from tests.helpers import all_item_types, thread
from threadkit.services.items import ItemService
from threadkit.services.keys import KeyService
from threadkit.services.threads import ThreadService
from threadkit.services.transfer import Importer
from threadkit.stores.records import PageQuery
from threadkit.stores.rows import THREAD_COLUMNS
from threadkit.stores.sqlite.store import SQLiteStore


def test_request_path_queries_use_indexes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    statements: list[str] = []

    async def scenario() -> None:
        store = SQLiteStore(url)
        await store.open()
        threads = [thread(user=f"u{i % 5}", created_at=1_700_000_000 + i) for i in range(200)]
        objects: list[dict] = []
        for t in threads:
            objects += [t, *all_item_types(t["id"])]
        await Importer(store, "p").run(orjson.dumps(o) for o in objects)
        secret = (await KeyService(store).create("p")).secret
        store._db.conn().execute("ANALYZE")
        store._db.conn().set_trace_callback(statements.append)
        tid, mid = threads[100]["id"], threads[50]["id"]
        await KeyService(store).authenticate(secret)
        svc, items = ThreadService(store), ItemService(store)
        await svc.retrieve("p", tid, include_items=True)
        for order in ("asc", "desc"):
            await svc.list("p", PageQuery(order=order), None)  # type: ignore[arg-type]
            await svc.list("p", PageQuery(order=order, after=mid), "u0")  # type: ignore[arg-type]
            await svc.list("p", PageQuery(order=order, before=mid), None)  # type: ignore[arg-type]
            await svc.list("p", PageQuery(order=order, after=mid, before=tid), "u0")  # type: ignore[arg-type]
            first = await items.list("p", tid, PageQuery(order=order))  # type: ignore[arg-type]
            after = first["first_id"]
            await items.list("p", tid, PageQuery(order=order, after=after))  # type: ignore[arg-type]
            await items.list("p", tid, PageQuery(order=order, before=after))  # type: ignore[arg-type]
            # the protocol's reads: a thread with a page of its items, a page of threads
            await store.read_thread_items("p", tid, PageQuery(order=order))  # type: ignore[arg-type]
            await store.read_thread_items("p", tid, PageQuery(order=order, after=after))  # type: ignore[arg-type]
            await store.read_threads_text("p", PageQuery(order=order), "u0")  # type: ignore[arg-type]
            await store.read_threads_text("p", PageQuery(order=order, after=mid), "u0")  # type: ignore[arg-type]
        store._db.conn().set_trace_callback(None)
        await store.close()

    asyncio.run(scenario())
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 20
    conn = sqlite3.connect(tmp_path / "plans.db")
    for sql in selects:
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        # A page joined into one row scans the page's own rows (a subquery, or one
        # materialized under a name), never a table.
        materialized = set(re.findall(r"MATERIALIZE (\S+)", plan))
        scans = re.findall(r"SCAN (\S+)", plan)
        assert all(s.startswith("(subquery-") or s in materialized for s in scans), (sql, plan)
        assert "TEMP B-TREE" not in plan, (sql, plan)
        assert "USING" in plan, (sql, plan)
        if "user_id = " in sql and " LIMIT " in sql:  # a page of one user's threads
            assert "USING COVERING INDEX threads_by_user_time" in plan, (sql, plan)
        if sql.startswith(f"SELECT {THREAD_COLUMNS} FROM threads") and "LIMIT" not in sql:
            assert "USING COVERING INDEX threads_by_id_covering" in plan, (sql, plan)
    assert any("user_id = " in s and " LIMIT " in s for s in selects)
    assert any("group_concat(payload" in s for s in selects)  # the protocol's reads were seen
    assert any("json_array(" in s for s in selects)
    assert any(s.startswith(f"SELECT {THREAD_COLUMNS} FROM threads INDEXED BY") for s in selects)
