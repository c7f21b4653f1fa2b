"""Chat turns: threadkit's ``threads.add_user_message`` (echo workflow) against the
reference turn app (``bench/reference_turn_app.py``), side by side in one run.

Each server gets a database of its own, made afresh (threadkit's schema, a thread per
conversation, for a user of its own). Two loads, interleaved in rounds so that machine
noise hits both servers alike:

* wrk at 64 and at 8 connections, each request a turn in a random conversation's
  thread, the SSE stream read to its end: turns per second;
* 8 conversations from this process, each one turn after the other on its own
  keep-alive connection and thread: the time to the first SSE event (p50, p99) and
  turns per second.

threadkit is ``threadkit serve`` (1 worker, granian) with a project key and
``X-ChatKit-User``; the reference app runs on granian too. Ratios are taken within a
round, and the median over the rounds is printed. Run from the checkout, so that
``-m threadkit`` is its code::

    PYTHONPATH=$PWD .venv/bin/python bench/turns.py [--backends sqlite postgres] \\
        [--rounds 3] [--duration 5] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # type: ignore[import-not-found]
    PYTHON,
    USER_HEADER,
    Result,
    Server,
    free_port,
    running,
    threadkit_server,
    write_lines,
    wrk,
)

from threadkit.services.keys import KeyService
from threadkit.stores import open_store
from threadkit.stores.records import ThreadRow

HERE = Path(__file__).resolve().parent
PROJECT = "bench"
CONVERSATIONS = 64
TEXT = "Could you remind me what we decided about the release date last week?"


# --- databases ------------------------------------------------------------------------------


def thread_ids(n: int) -> list[tuple[str, str]]:
    """(thread id, user) of each conversation: the same in both databases."""
    return [(f"cthr_{i:048x}", f"user_{i}") for i in range(n)]


async def prepare(url: str, with_key: bool) -> str | None:
    """Schema, one titled thread per conversation and, for threadkit, a key's secret."""
    store = open_store(url)
    await store.open()
    try:
        now_us = int(time.time() * 1_000_000)
        rows = [
            ThreadRow(tid, user, now_us + i, f"Conversation {i}", {"type": "active"})
            for i, (tid, user) in enumerate(thread_ids(CONVERSATIONS))
        ]
        await store.import_rows(PROJECT, rows, [])
        return (await KeyService(store).create(PROJECT)).secret if with_key else None
    finally:
        await store.close()


async def fresh_postgres(admin_url: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def databases(backend: str, work: Path, admin_url: str) -> tuple[str, str, str]:
    """(threadkit's URL, the reference app's URL, threadkit's key)."""
    if backend == "sqlite":
        tk_url, ref_url = f"sqlite:///{work / 'turns-tk.db'}", f"sqlite:///{work / 'turns-ref.db'}"
    else:
        tk_url = await fresh_postgres(admin_url, "threadkit_turns_tk")
        ref_url = await fresh_postgres(admin_url, "threadkit_turns_ref")
    key = await prepare(tk_url, with_key=True)
    await prepare(ref_url, with_key=False)
    assert key is not None
    return tk_url, ref_url, key


def reference_turn_server(db: str) -> Server:
    port = free_port()
    command = [PYTHON, str(HERE / "reference_turn_app.py"), "--db", db, "--port", str(port)]
    command += ["--project", PROJECT, "--server", "granian"]
    return Server("ref", command, port, "/healthz")


# --- requests -------------------------------------------------------------------------------


def turn_body(thread_id: str) -> bytes:
    content = [{"type": "input_text", "text": TEXT}]
    params = {
        "thread_id": thread_id,
        "input": {"content": content, "attachments": [], "inference_options": {}},
    }
    return orjson.dumps({"type": "threads.add_user_message", "params": params})


def wrk_lines(conversations: int) -> list[str]:
    return [
        f"POST\t/chatkit\t{turn_body(tid).decode()}\tContent-Type: application/json"
        f"|{USER_HEADER}: {user}"
        for tid, user in thread_ids(CONVERSATIONS)[:conversations]
    ]


async def _read_chunked(reader: asyncio.StreamReader, started: float) -> tuple[float, int]:
    """Reads a chunked SSE body to its end: (ms to the first event, events)."""
    first, events, pending = None, 0, b""
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            await reader.readline()
            break
        pending += await reader.readexactly(size)
        await reader.readexactly(2)
        while b"\n\n" in pending:
            frame, pending = pending.split(b"\n\n", 1)
            if frame.startswith(b"data:"):
                events += 1
                if first is None:
                    first = (time.perf_counter() - started) * 1000
    if first is None:
        raise RuntimeError("a turn streamed no event")
    return first, events


async def conversation(
    port: int, key: str | None, thread_id: str, user: str, until: float, firsts: list[float]
) -> int:
    """Turns one after the other until ``until``; appends each first-event time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = turn_body(thread_id)
    head = (
        f"POST /chatkit HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{USER_HEADER}: {user}\r\nContent-Length: {len(body)}\r\n"
    )
    if key:
        head += f"Authorization: Bearer {key}\r\nOpenAI-Beta: chatkit_beta=v1\r\n"
    request = (head + "\r\n").encode() + body
    turns = 0
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"turn refused: {status!r} {await reader.read(500)!r}")
            chunked = False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                chunked |= line.lower().startswith(b"transfer-encoding: chunked")
            if not chunked:
                raise RuntimeError("expected a chunked SSE response")
            first, events = await _read_chunked(reader, started)
            if events != 7:
                raise RuntimeError(f"a turn streamed {events} events, not 7")
            firsts.append(first)
            turns += 1
    finally:
        writer.close()
    return turns


def conversations(server: Server, key: str | None, n: int, seconds: float) -> dict[str, float]:
    async def go() -> tuple[int, list[float], float]:
        firsts: list[float] = []
        started = time.perf_counter()
        until = started + seconds
        turns = await asyncio.gather(
            *(
                conversation(server.port, key, tid, user, until, firsts)
                for tid, user in thread_ids(CONVERSATIONS)[:n]
            )
        )
        return sum(turns), firsts, time.perf_counter() - started

    turns, firsts, wall = asyncio.run(go())
    firsts.sort()
    return {
        "turns_per_s": turns / wall,
        "first_p50_ms": firsts[len(firsts) // 2],
        "first_p99_ms": firsts[min(len(firsts) - 1, int(0.99 * len(firsts)))],
    }


def same_events(tk: Server, tk_key: str, ref: Server) -> None:
    """Both servers stream the same events for a turn (ids and times aside)."""
    import httpx

    def shape(server: Server, key: str | None) -> list[Any]:
        tid, user = thread_ids(CONVERSATIONS)[CONVERSATIONS - 1]
        headers = {"Content-Type": "application/json", USER_HEADER: user}
        if key:
            headers |= {"Authorization": f"Bearer {key}", "OpenAI-Beta": "chatkit_beta=v1"}
        text = httpx.post(
            server.url + "/chatkit", content=turn_body(tid), headers=headers, timeout=30
        ).text
        events = [orjson.loads(f[5:]) for f in text.split("\n\n") if f.startswith("data:")]
        return [_without_ids(e) for e in events]

    mine, theirs = shape(tk, tk_key), shape(ref, None)
    if mine != theirs:
        raise SystemExit(f"the reference app's events differ:\n{mine}\n{theirs}")


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "-" if k in ("id", "item_id", "created_at") else _without_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


# --- the run --------------------------------------------------------------------------------


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    tk_url, ref_url, key = asyncio.run(databases(backend, work, args.pg))
    tk = threadkit_server("tk", tk_url, 1, {})
    ref = reference_turn_server(ref_url)
    files = {c: write_lines(work / f"turns-{c}.txt", wrk_lines(c)) for c in (64, 8)}
    loads: dict[str, list[Result]] = {}
    clients: dict[str, list[dict[str, float]]] = {}
    with running([tk, ref]):
        same_events(tk, key, ref)
        for _ in range(args.rounds):
            for server, secret in ((tk, key), (ref, None)):
                for c, path in files.items():
                    wrk(server, path, key=secret, duration=args.warmup, connections=c)
                    result = wrk(server, path, key=secret, duration=args.duration, connections=c)
                    if result.errors:
                        raise SystemExit(f"{server.name} at {c}: {result.errors} errors")
                    loads.setdefault(f"{server.name} {c}", []).append(result)
                clients.setdefault(server.name, []).append(
                    conversations(server, secret, 8, args.duration)
                )
    rows: dict[str, Any] = {}
    print(f"\n{backend}: echo turns, {args.rounds} rounds of {args.duration:g} s")
    print("| server | load | turns/s | vs reference | p50 ms | p99 ms | server cores |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for c in (64, 8):
        for name in ("tk", "ref"):
            runs, base = loads[f"{name} {c}"], loads[f"ref {c}"]
            ratio = statistics.median(r.rps / b.rps for r, b in zip(runs, base, strict=True))
            row = {
                "turns_per_s": statistics.median(r.rps for r in runs),
                "ratio": ratio,
                "ratios": [r.rps / b.rps for r, b in zip(runs, base, strict=True)],
                "p50_ms": statistics.median(r.p50_ms for r in runs),
                "p99_ms": statistics.median(r.p99_ms for r in runs),
                "server_cores": statistics.median(r.server_cores for r in runs),
            }
            rows[f"{name} wrk {c}"] = row
            print(
                f"| {name} | wrk, {c} connections | {row['turns_per_s']:,.0f} | {ratio:.2f} |"
                f" {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['server_cores']:.2f} |"
            )
    print("\n| server | 8 conversations | turns/s | vs reference | first event p50 ms | p99 ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in ("tk", "ref"):
        runs, base = clients[name], clients["ref"]
        ratios = [r["turns_per_s"] / b["turns_per_s"] for r, b in zip(runs, base, strict=True)]
        row = {
            "turns_per_s": statistics.median(r["turns_per_s"] for r in runs),
            "ratio": statistics.median(ratios),
            "first_p50_ms": statistics.median(r["first_p50_ms"] for r in runs),
            "first_p99_ms": statistics.median(r["first_p99_ms"] for r in runs),
            "rounds": runs,
        }
        rows[f"{name} client 8"] = row
        print(
            f"| {name} | one turn after the other | {row['turns_per_s']:,.0f} |"
            f" {row['ratio']:.2f} | {row['first_p50_ms']:.2f} | {row['first_p99_ms']:.2f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL database to create the benchmark's databases from",
    )
    parser.add_argument(
        "--work", type=Path, default=HERE.parent / "bench-data" / "turns", help="SQLite files"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    report = {}
    for backend in args.backends:
        for leftover in work.glob("turns-*.db*"):
            leftover.unlink()
        report[backend] = run_backend(backend, args, work)
    if args.json:
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
