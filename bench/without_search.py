"""A benchmark database without the full-text search index, to measure what the index
costs the rest of the server (``bench/run.py load --compare-db``, ``import
--without-search``). Bench only: a stripped database cannot be searched.

What is removed, after the schema is migrated:

* SQLite: the FTS5 tables of migration 7, their views and their triggers. The store
  adds a batch's new rows to the index itself, with one statement per batch
  (``threadkit/stores/sqlite/bulk.py``); that statement is left to run against empty
  stand-ins (a plain table, a view of no rows), so it costs a statement per batch and
  writes nothing.
* PostgreSQL: ``search_documents`` (its GIN index with it), the triggers that keep it
  and their functions.

A copy of a generated set keeps its rows, their layout and its API key: ``copy`` copies
the SQLite file (its WAL checkpointed first) or makes the PostgreSQL database from the
other as a template, then strips the copy. ``--index`` does the opposite on PostgreSQL,
in bulk (a full set is generated stripped, copied, then indexed: see ``index``). Usage::

    .venv/bin/python bench/without_search.py --db sqlite:///bench-data/full.db \\
        --to sqlite:///bench-data/full-nosearch.db
    .venv/bin/python bench/without_search.py \\
        --db postgresql://postgres@127.0.0.1:5432/threadkit_bench \\
        --to postgresql://postgres@127.0.0.1:5432/threadkit_bench_nosearch
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

MIGRATIONS = Path(__file__).resolve().parent.parent / "threadkit" / "stores" / "migrations"

SQLITE_STRIP = """
DROP TRIGGER IF EXISTS items_search_delete;
DROP TRIGGER IF EXISTS items_search_update_old;
DROP TRIGGER IF EXISTS items_search_update_new;
DROP TRIGGER IF EXISTS threads_search_delete;
DROP TRIGGER IF EXISTS threads_search_update_old;
DROP TRIGGER IF EXISTS threads_search_update_new;
DROP VIEW IF EXISTS item_search_text;
DROP VIEW IF EXISTS title_search_text;
DROP TABLE IF EXISTS item_search;
DROP TABLE IF EXISTS title_search;
CREATE TABLE item_search (body TEXT);
CREATE TABLE title_search (body TEXT);
CREATE VIEW item_search_text (seq, body) AS SELECT 0, '' WHERE 0;
CREATE VIEW title_search_text (seq, body) AS SELECT 0, '' WHERE 0;
"""

POSTGRES_STRIP = """
DROP TRIGGER IF EXISTS items_search_insert ON items;
DROP TRIGGER IF EXISTS items_search_update ON items;
DROP TRIGGER IF EXISTS items_search_delete ON items;
DROP TRIGGER IF EXISTS threads_search_insert ON threads;
DROP TRIGGER IF EXISTS threads_search_update ON threads;
DROP TRIGGER IF EXISTS threads_search_delete ON threads;
DROP FUNCTION IF EXISTS threadkit_items_searched();
DROP FUNCTION IF EXISTS threadkit_titles_searched();
DROP TABLE IF EXISTS search_documents;
DROP FUNCTION IF EXISTS threadkit_item_text(JSON);
DROP FUNCTION IF EXISTS threadkit_search_vector(TEXT);
"""

#: where migration 7 creates the GIN index, and where its backfill starts
_GIN = "CREATE INDEX search_documents_vector ON search_documents USING gin (vector);"
_BACKFILL = "-- What was stored before this version."
_ITEM_DOCUMENTS = """
INSERT INTO search_documents (project, thread_id, item_seq, vector)
SELECT project, thread_id, seq, vector FROM (
    SELECT i.project, i.thread_id, i.seq, threadkit_search_vector(t.body) AS vector
    FROM items AS i CROSS JOIN LATERAL threadkit_item_text(i.payload) AS t
    WHERE i.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')
        AND i.seq % $1 = $2
) AS documents WHERE vector <> ''::tsvector
"""
_TITLE_DOCUMENTS = """
INSERT INTO search_documents (project, thread_id, item_seq, vector)
SELECT project, id, 0, vector FROM (
    SELECT project, id, threadkit_search_vector(title) AS vector FROM threads
) AS documents WHERE vector <> ''::tsvector
"""


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    """``url`` naming another database of the same PostgreSQL server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _pg_execute(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def strip(url: str) -> None:
    """Removes the search index and its maintenance from a migrated database, in place."""
    path = sqlite_path(url)
    if path is not None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.executescript(f"BEGIN IMMEDIATE; {SQLITE_STRIP} COMMIT;")
        finally:
            conn.close()
        return
    asyncio.run(_pg_execute(url, f"BEGIN; {POSTGRES_STRIP} COMMIT;"))


def index(url: str, parts: int) -> None:
    """PostgreSQL: gives a stripped database its search index back, built in bulk: the
    schema of migration 7 without its GIN index, every document computed by ``parts``
    connections at once, then the GIN index built from all of them (one index build is
    much faster than growing the index by ten million inserts). The end state is the
    migration's, the index being more compact than one grown row by row."""
    import asyncpg

    sql = (MIGRATIONS / "postgres" / "0007_search.sql").read_text()
    schema = sql[: sql.index(_BACKFILL)].replace(_GIN, "")

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"BEGIN; {POSTGRES_STRIP} {schema} COMMIT;")
            await conn.execute(_TITLE_DOCUMENTS)

            async def part(k: int) -> None:
                other = await asyncpg.connect(url)
                try:
                    await other.execute("SET jit = off")
                    await other.execute(_ITEM_DOCUMENTS, parts, k)
                finally:
                    await other.close()

            await asyncio.gather(*(part(k) for k in range(parts)))
            await conn.execute("SET maintenance_work_mem = '1GB'")
            await conn.execute(_GIN)
            await conn.execute("VACUUM ANALYZE search_documents")
        finally:
            await conn.close()

    asyncio.run(run())


def copy(source: str, target: str) -> None:
    """``target``: a new database holding ``source``'s rows, without the search index."""
    path, to = sqlite_path(source), sqlite_path(target)
    if (path is None) != (to is None):
        raise SystemExit("--db and --to must be of the same backend")
    if path is not None and to is not None:
        if to.exists():
            raise SystemExit(f"{to} exists")
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        shutil.copyfile(path, to)
    else:
        name = database_name(target)
        asyncio.run(
            _pg_execute(
                with_database(source, "postgres"),
                f'CREATE DATABASE "{name}" TEMPLATE "{database_name(source)}"',
            )
        )
    strip(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="the database to copy")
    parser.add_argument("--to", help="the new database (must not exist)")
    parser.add_argument(
        "--strip", action="store_true", help="strip --db itself of the search index"
    )
    parser.add_argument(
        "--index",
        type=int,
        metavar="PARTS",
        help="PostgreSQL: build the search index of a stripped --db in bulk, PARTS"
        " connections computing the documents",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    if args.strip:
        strip(args.db)
    if args.to:
        copy(args.db, args.to)
    if args.index:
        index(args.db, args.index)
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
