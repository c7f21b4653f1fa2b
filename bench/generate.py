"""Fill a database with benchmark data through the store's own ``import_rows``.

Rows are built exactly as ``threadkit import`` builds them (``ThreadRow`` as the
importer makes it, items through ``item_row_from_rest``) and stored with the
store's ``import_rows`` in large transactions, so the database holds what the
server itself would have written: same columns, same payload JSON, ids
``cthr_``/``cthi_`` + 48 hex.

Scales (threads / users / items):

* ``full``: 1,000,000 / 10,000 / 10,000,000 — 10 threads of 100,000 items,
  900,000 threads of 10 items, the other 99,990 threads without items.
* ``medium``: 100,000 / 1,000 / 1,000,000 — one thread of 100,000 items, 90,000 of 10
  (for quicker comparisons, e.g. of import speed).
* ``small``: 1,000 / 10 / 10,000 — every thread has 10 items. Same number of
  threads per user (100) as ``full``, so user lists have the same shape.
* ``pages``: 1,000 / 10 / 25,000 — ``small`` with 25 items in every thread, so that a
  page of 20 items is a full page with more after it.

Besides the database, the output folder gets ``meta.json`` (counts, timings, the
API key's secret for the load driver) and ``samples.json`` (random thread ids,
users and pagination cursors for the wrk scripts). Usage::

    .venv/bin/python bench/generate.py --scale full --db sqlite:///bench-data/full.db \\
        --out bench-data/full
    .venv/bin/python bench/generate.py --scale full \\
        --db postgresql://postgres@127.0.0.1:5432/threadkit_bench --out bench-data/full-pg
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from threadkit.services.keys import KeyService
from threadkit.stores import open_store
from threadkit.stores.records import ItemRow, PageQuery, ThreadRow, item_row_from_rest

PROJECT = "bench"
BASE_TIME = 1_700_000_000  # seconds; thread i is created at BASE_TIME + i
LONG_ITEMS = 100_000
SHORT_ITEMS = 10
SAMPLE = 20_000  # random thread ids handed to the load driver


@dataclass(frozen=True)
class Scale:
    threads: int
    users: int
    items: int
    long_threads: int
    short_items: int = SHORT_ITEMS

    @property
    def short_threads(self) -> int:
        return (self.items - self.long_threads * LONG_ITEMS) // self.short_items


SCALES = {
    "full": Scale(threads=1_000_000, users=10_000, items=10_000_000, long_threads=10),
    "medium": Scale(threads=100_000, users=1_000, items=1_000_000, long_threads=1),
    "small": Scale(threads=1_000, users=10, items=10_000, long_threads=0),
    "pages": Scale(threads=1_000, users=10, items=25_000, long_threads=0, short_items=25),
}

WORDS = [
    "order",
    "refund",
    "invoice",
    "shipping",
    "delay",
    "account",
    "password",
    "reset",
    "billing",
    "plan",
    "upgrade",
    "widget",
    "dashboard",
    "export",
    "report",
    "error",
    "timeout",
    "login",
    "team",
    "invite",
    "webhook",
    "latency",
    "region",
    "backup",
    "restore",
    "quota",
    "limit",
    "token",
    "session",
    "mobile",
    "desktop",
    "browser",
]


class Ids:
    """Deterministic ids in the server's format (prefix + 48 lowercase hex)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def thread(self) -> str:
        return f"cthr_{self.rng.getrandbits(192):048x}"

    def item(self) -> str:
        return f"cthi_{self.rng.getrandbits(192):048x}"


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, k=words)).capitalize() + "."


def thread_row(i: int, thread_id: str, user: str, rng: random.Random) -> ThreadRow:
    """The row ``threadkit import`` makes for a ``chatkit.thread`` line."""
    status: dict[str, Any] = {"type": "active"}
    if i % 50 == 49:
        status = {"type": "closed", "reason": "Resolved by support."}
    return ThreadRow(
        id=thread_id,
        user=user,
        created_us=(BASE_TIME + i) * 1_000_000,
        title=f"{sentence(rng, 4)[:-1]} #{i}",
        status=status,
    )


def item_rows(thread: ThreadRow, count: int, ids: Ids, rng: random.Random) -> Iterator[ItemRow]:
    """``count`` alternating user/assistant messages, one second apart."""
    start = thread.created_us // 1_000_000
    for j in range(count):
        head = {
            "id": ids.item(),
            "object": "chatkit.thread_item",
            "created_at": start + j,
            "thread_id": thread.id,
        }
        if j % 2 == 0:
            data = {
                **head,
                "type": "chatkit.user_message",
                "content": [{"type": "input_text", "text": sentence(rng, rng.randint(6, 20))}],
                "attachments": [],
                "inference_options": None,
            }
        else:
            data = {
                **head,
                "type": "chatkit.assistant_message",
                "content": [
                    {
                        "type": "output_text",
                        "text": sentence(rng, rng.randint(15, 45)),
                        "annotations": [],
                    }
                ],
            }
        yield item_row_from_rest(data)


def user_name(u: int) -> str:
    return f"user_{u:05d}"


class Plan:
    """Which thread gets how many items; users and long threads are spread evenly."""

    def __init__(self, scale: Scale) -> None:
        self.scale = scale
        step = scale.threads // scale.long_threads if scale.long_threads else 0
        # Long threads sit on indexes ending in 9, the ones short threads skip.
        self.long = {k * step + step // 2 - 1 for k in range(scale.long_threads)}
        # Every thread but every tenth has SHORT_ITEMS items, until the item budget is
        # spent: 900,000 of 1,000,000 at full scale.
        self.short_budget = scale.short_threads

    def items_of(self, i: int) -> int:
        if i in self.long:
            return LONG_ITEMS
        if self.short_budget <= 0:
            return 0
        if self.scale.short_threads < self.scale.threads and i % 10 == 9:
            return 0
        self.short_budget -= 1
        return self.scale.short_items


async def generate(url: str, scale: Scale, out: Path, batch_items: int, seed: int) -> None:
    rng = random.Random(seed)
    ids = Ids(rng)
    plan = Plan(scale)
    store = open_store(url)
    await store.open()
    if (await store.list_threads(PROJECT, PageQuery(limit=1))).rows:
        await store.close()
        raise SystemExit(f"project '{PROJECT}' of {url} already has threads: use a new database")

    users = [user_name(u) for u in range(scale.users)]
    thread_ids: list[str] = []
    user_threads: dict[str, list[str]] = {u: [] for u in users}
    long_threads: dict[str, list[str]] = {}
    short_threads: list[str] = []
    threads: list[ThreadRow] = []
    items: list[ItemRow] = []
    pending: asyncio.Task[None] | None = None
    written_threads = written_items = 0
    started = time.perf_counter()
    last_report = started

    async def flush() -> None:
        nonlocal pending, threads, items, written_threads, written_items
        if pending is not None:
            await pending
        # Build the next batch while the store's writer thread commits this one.
        pending = asyncio.create_task(store.import_rows(PROJECT, threads, items))
        await asyncio.sleep(0)
        written_threads += len(threads)
        written_items += len(items)
        threads, items = [], []

    for i in range(scale.threads):
        user = users[i % scale.users]
        row = thread_row(i, ids.thread(), user, rng)
        thread_ids.append(row.id)
        user_threads[user].append(row.id)
        threads.append(row)
        count = plan.items_of(i)
        made = list(item_rows(row, count, ids, rng))
        items.extend(made)
        if count == LONG_ITEMS:
            long_threads[row.id] = [r.id for r in made]
        elif count == scale.short_items and len(short_threads) < SAMPLE:
            short_threads.append(row.id)
        if len(items) >= batch_items or len(threads) >= batch_items:
            await flush()
            now = time.perf_counter()
            if now - last_report > 10:
                last_report = now
                print(
                    f"  {written_threads:>9,} threads {written_items:>11,} items"
                    f"  {now - started:7.1f} s  ({written_items / (now - started):,.0f} items/s)",
                    flush=True,
                )
    await flush()
    assert pending is not None
    await pending
    elapsed = time.perf_counter() - started
    analyze_s = await analyze(url)
    key = await KeyService(store).create(PROJECT)
    await store.close()

    total_items = written_items
    meta = {
        "database_url": url,
        "backend": store.backend,
        "project": PROJECT,
        "key": key.secret,
        "threads": written_threads,
        "users": scale.users,
        "items": total_items,
        "long_threads": len(long_threads),
        "seconds": round(elapsed, 1),
        "analyze_seconds": analyze_s,
        "items_per_second": round(total_items / elapsed),
        "seed": seed,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    (out / "samples.json").write_bytes(
        orjson.dumps(samples(rng, thread_ids, users, user_threads, long_threads, short_threads))
    )
    print(
        f"{written_threads:,} threads, {total_items:,} items over {scale.users:,} users"
        f" in {elapsed:.1f} s ({total_items / elapsed:,.0f} items/s) -> {url}"
    )


async def analyze(url: str) -> float | None:
    """PostgreSQL: VACUUM ANALYZE after the bulk load, as autovacuum would soon do
    anyway, so the first benchmark minutes do not measure a stale planner or an
    unset visibility map. SQLite is left exactly as the store made it."""
    if not url.startswith(("postgresql://", "postgres://")):
        return None
    import asyncpg

    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return round(time.perf_counter() - started, 1)


def samples(
    rng: random.Random,
    thread_ids: list[str],
    users: list[str],
    user_threads: dict[str, list[str]],
    long_threads: dict[str, list[str]],
    short_threads: list[str],
) -> dict[str, Any]:
    """Random picks for the load driver.

    Lists are newest first (``order=desc``, the default), so a deep cursor is an
    old element: for users, one of their oldest 20% of threads (about 80 deep of
    100); for long threads, an item among the oldest half (50,000 to 100,000 deep).
    """
    user_of = {t: u for u, ts in user_threads.items() for t in ts}
    picked = rng.sample(thread_ids, min(SAMPLE, len(thread_ids)))
    deep_users = []
    for user in rng.sample(users, min(SAMPLE, len(users))):
        mine = user_threads[user]
        if len(mine) >= 25:
            deep_users.append([user, mine[rng.randrange(len(mine) // 5)]])
    deep_items = []
    for thread_id, item_ids in long_threads.items():
        for _ in range(SAMPLE // max(1, len(long_threads))):
            deep_items.append([thread_id, item_ids[rng.randrange(len(item_ids) // 2)]])
    return {
        "threads": [[t, user_of[t]] for t in picked],
        "users": users,
        "deep_users": deep_users,
        "deep_threads": rng.sample(thread_ids, min(SAMPLE, len(thread_ids))),
        "long_threads": list(long_threads),
        "deep_items": deep_items,
        "short_threads": short_threads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="sqlite:///path or postgresql://... URL")
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--out", type=Path, required=True, help="folder for meta/samples")
    parser.add_argument("--batch-items", type=int, default=200_000, help="rows per transaction")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(generate(args.db, SCALES[args.scale], args.out, args.batch_items, args.seed))


if __name__ == "__main__":
    main()
