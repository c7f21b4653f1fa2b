"""The load driver: threadkit against the reference app, side by side, under wrk.

Subcommands (each prints markdown tables; ``--json`` also saves every figure):

* ``load``: starts the reference app and ``threadkit serve`` (1 and 2 workers, on
  the generated full data set, plus threadkit on the small one for the scale
  ratios) and runs wrk at 64 connections against each scenario, interleaved in
  rounds so machine noise hits all of them alike. Prints requests/s, p50, p99 and
  errors, each as a ratio to the reference app in the same round, and peak RSS per
  worker.
* ``soak``: mixed load for ``--duration`` seconds; worker RSS growth after minute 1.
* ``sse``: latency to the first SSE event of ``threads.add_user_message`` (echo
  workflow) under light load.
  ``--compare-db URL`` adds threadkit on another database holding a copy of the full
  data (e.g. without the search index, made by ``bench/without_search.py``): each
  scenario runs on it right after the full data's run of it, or right before it in
  every other round, and the report ends with the medians of the per-round ratios
  (full data / the other). ``--small`` is optional with it (no 1M vs 1k ratios then).
* ``import``: ``threadkit import`` of a generated JSON Lines file into a new SQLite
  database (``--postgres URL``: a new database of that PostgreSQL server), in items/s.
  ``--without-search`` alternates each run with one into a schema stripped of the
  search index after migrating, and prints the ratio of their times. An import leaves
  its rows to be indexed for search after it commits: the time ``threadkit
  index-search`` then takes is printed apart.
* ``search``: full-text searches (``GET /v1/chatkit/threads?q=``: a rare word, common
  words, a prefix, with and without a user) one at a time, p50/p90/p99.

Usage (data from ``bench/generate.py``)::

    nice .venv/bin/python bench/run.py load --full bench-data/full --small bench-data/small
    nice .venv/bin/python bench/run.py soak --full bench-data/full --duration 600
    nice .venv/bin/python bench/run.py sse --full bench-data/full
    nice .venv/bin/python bench/run.py import --items 1000000
    nice .venv/bin/python bench/run.py search --full bench-data/full
    # what the search index costs the rest
    .venv/bin/python bench/without_search.py --db sqlite:///bench-data/full.db \
        --to sqlite:///bench-data/full-nosearch.db
    nice .venv/bin/python bench/run.py load --full bench-data/full --workers 1 \
        --scenarios retrieve,list_first --compare-db sqlite:///bench-data/full-nosearch.db
    nice .venv/bin/python bench/run.py import --items 1000000 --without-search \
        --postgres postgresql://postgres@127.0.0.1:5432/postgres

Needs ``wrk`` on PATH (Debian: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import mmap
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
LUA = HERE / "requests.lua"
PYTHON = sys.executable
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    """All descendants of ``pid``."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except FileNotFoundError:
            continue
        for child in text.split():
            found.append(int(child))
            found.extend(children(int(child)))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB."""
    now = peak = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return now, peak


def disk_read_mb(pid: int) -> float:
    """MiB a process has read from storage so far (not from the OS page cache)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("read_bytes:"):
                return int(line.split()[1]) / 2**20
    except FileNotFoundError:
        pass
    return 0.0


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / TICK, total / TICK


def pinned(command: list[str], cpus: str | None) -> list[str]:
    """``command`` run on the given CPUs only (all of them when ``cpus`` is None)."""
    return ["taskset", "-c", cpus, *command] if cpus else command


@dataclass
class Server:
    """A server process under test: threadkit or the reference app."""

    name: str
    command: list[str]
    port: int
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    #: CPUs the server may run on (``taskset -c`` list), None for all
    cpus: str | None = None
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, logs: Path) -> None:
        self.log = logs / f"{self.name}.log"
        self.process = subprocess.Popen(
            pinned(self.command, self.cpus),
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", self.ready_path)
                status = conn.getresponse().status
                conn.close()
                if status < 500 and len(self.workers()) >= self.expected_workers():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_text()}")

    def expected_workers(self) -> int:
        if "--workers" in self.command:
            return int(self.command[self.command.index("--workers") + 1])
        return 1

    def workers(self) -> list[int]:
        """Pids of the processes that serve requests."""
        assert self.process is not None
        # uvicorn spawns workers ("spawn_main") when it has more than one; granian
        # always forks them. Neither counts multiprocessing's resource tracker.
        workers = [p for p in children(self.process.pid) if "resource_tracker" not in cmdline(p)]
        return workers or [self.process.pid]

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.workers())

    def disk_read_mb(self) -> float:
        return sum(disk_read_mb(p) for p in self.workers())

    def peak_rss(self) -> list[float]:
        return [rss_mb(p)[1] for p in self.workers()]

    def rss(self) -> list[float]:
        return [rss_mb(p)[0] for p in self.workers()]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log else ""


def variant(args: argparse.Namespace) -> dict[str, str]:
    """The settings of ``--variant``: ``SETTING=VALUE`` pairs separated by spaces."""
    return dict(pair.split("=", 1) for pair in args.variant.split())


def threadkit_server(
    name: str, db: str, workers: int, extra_env: dict[str, str], engine: str = "granian"
) -> Server:
    port = free_port()
    command = [PYTHON, "-m", "threadkit", "serve", "--db", db, "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", "--server", engine]
    return Server(name, command, port, "/healthz", extra_env)


def reference_server(
    name: str, db: str, workers: int, server: str = "uvicorn", pool: int = 10
) -> Server:
    port = free_port()
    command = [PYTHON, str(HERE / "reference_app.py"), "--db", db, "--port", str(port)]
    command += ["--workers", str(workers), "--server", server, "--pool", str(pool)]
    return Server(name, command, port, "/v1/chatkit/threads/none")


@contextlib.contextmanager
def running(servers: list[Server]) -> Iterator[None]:
    logs = Path(tempfile.mkdtemp(prefix="threadkit-bench-"))
    try:
        for server in servers:
            server.start(logs)
        for server in servers:
            server.wait_ready()
        yield
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(logs, ignore_errors=True)


def database_files(database_url: str) -> list[Path]:
    """The files holding the benchmark's data: the SQLite file (and its WAL), or the
    PostgreSQL segments of the thread, item and search tables and their indexes."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    import asyncio

    import asyncpg

    async def run() -> tuple[str, list[str]]:
        conn = await asyncpg.connect(database_url)
        try:
            folder = await conn.fetchval("SHOW data_directory")
            rows = await conn.fetch(
                "SELECT pg_relation_filepath(c.oid) AS path FROM pg_class c"
                " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i', 't')"
                " AND (c.relname IN ('threads', 'items', 'search_documents')"
                " OR c.relname LIKE 'threads\\_%' OR c.relname LIKE 'items\\_%'"
                " OR c.relname LIKE 'search\\_documents\\_%')"
            )
            return folder, [r["path"] for r in rows]
        finally:
            await conn.close()

    folder, relations = asyncio.run(run())
    files: list[Path] = []
    for relation in relations:
        first = Path(folder) / relation
        files += [first, *sorted(first.parent.glob(first.name + ".[0-9]*"))]  # 1 GiB segments
    return [f for f in files if f.exists()]


@contextlib.contextmanager
def resident(database_url: str) -> Iterator[None]:
    """Holds the database's files in memory while the benchmark runs, so that every
    server is measured on data in memory and none on the disk.

    Reading the files once is not enough on every machine: a kernel with proactive
    reclaim (a DAMON ``pageout`` scheme, as on the machines of docs/performance.md)
    drops page-cache pages nobody has touched for a while, and a scenario that comes
    back to its pages after a few minutes of other scenarios then reads them from the
    disk. The files are mapped here with ``MAP_POPULATE`` (which reads them in); that
    scheme pages out only file pages no process maps, and the pages are the same ones
    every server reads through the page cache.
    """
    started = time.monotonic()
    maps: list[Any] = []
    size = 0
    try:
        for path in database_files(database_url):
            length = path.stat().st_size
            if length == 0:
                continue
            with path.open("rb") as f:
                flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
                maps.append(mmap.mmap(f.fileno(), length, flags=flags, prot=mmap.PROT_READ))
            size += length
        print(
            f"resident: {size / 2**30:.1f} GiB in {len(maps)} files, mapped in"
            f" {time.monotonic() - started:.1f} s",
            flush=True,
        )
        yield
    finally:
        for m in maps:
            m.close()


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    wrk_cores: float
    server_cores: float
    machine_cores: float
    #: MiB the server's own processes read from storage during the run (page cache misses
    #: of the OS; a PostgreSQL server's reads are the database's processes', not counted)
    server_disk_mb: float = 0.0

    @classmethod
    def median(cls, results: list[Result]) -> Result:
        def med(name: str) -> float:
            return statistics.median(getattr(r, name) for r in results)

        return cls(
            rps=med("rps"),
            p50_ms=med("p50_ms"),
            p99_ms=med("p99_ms"),
            errors=sum(r.errors for r in results),
            requests=sum(r.requests for r in results),
            wrk_cores=med("wrk_cores"),
            server_cores=med("server_cores"),
            machine_cores=med("machine_cores"),
            server_disk_mb=med("server_disk_mb"),
        )


def wrk(
    server: Server,
    requests_file: Path,
    *,
    key: str | None,
    duration: float,
    connections: int = 64,
    threads: int = 1,
    cpus: str | None = None,
) -> Result:
    """One wrk run; CPU use of wrk, of the server's workers and of the whole machine."""
    env = {**os.environ, "BENCH_REQUESTS": str(requests_file), "BENCH_KEY": key or ""}
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{round(duration)}s",
        "--timeout",
        "10s",
    ]
    command += ["-s", str(LUA), server.url]
    server_before = server.cpu()
    disk_before = server.disk_read_mb()
    busy_before, total_before = machine_busy()
    process = subprocess.Popen(
        pinned(command, cpus), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    out, err = process.communicate()
    busy_after, total_after = machine_busy()
    wall = duration
    usage = os.times()  # children's CPU: wrk is the only child reaped since the last call
    wrk_cpu = usage.children_user + usage.children_system - wrk.children_cpu  # type: ignore[attr-defined]
    wrk.children_cpu = usage.children_user + usage.children_system  # type: ignore[attr-defined]
    line = next((x for x in out.decode().splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.decode()}\n{err.decode()}")
    data = orjson.loads(line.removeprefix("BENCH_RESULT "))
    seconds = data["duration_us"] / 1e6
    errors = sum(data["errors"].values())
    return Result(
        rps=data["requests"] / seconds,
        p50_ms=data["latency_us"]["p50"] / 1000,
        p99_ms=data["latency_us"]["p99"] / 1000,
        errors=errors,
        requests=data["requests"],
        wrk_cores=wrk_cpu / wall,
        server_cores=(server.cpu() - server_before) / wall,
        server_disk_mb=server.disk_read_mb() - disk_before,
        machine_cores=(busy_after - busy_before)
        / max(1e-9, (total_after - total_before))
        * (os.cpu_count() or 1),
    )


wrk.children_cpu = 0.0  # type: ignore[attr-defined]


# --- scenarios ------------------------------------------------------------------------------


def load_data(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    meta = orjson.loads((folder / "meta.json").read_bytes())
    samples = orjson.loads((folder / "samples.json").read_bytes())
    return meta, samples


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def protocol_line(thread_id: str, user: str) -> str:
    """``threads.get_by_id`` over ``POST /chatkit`` as the thread's owner (project key +
    user header)."""
    body = orjson.dumps({"type": "threads.get_by_id", "params": {"thread_id": thread_id}})
    return f"POST\t/chatkit\t{body.decode()}\tContent-Type: application/json|{USER_HEADER}: {user}"


USER_HEADER = "X-ChatKit-User"


def scenario_files(samples: dict[str, Any], folder: Path, prefix: str) -> dict[str, Path]:
    """Request files for wrk, one per scenario."""
    t = "/v1/chatkit/threads"
    files: dict[str, list[str]] = {
        "retrieve": [f"{t}/{tid}" for tid, _ in samples["threads"]],
        "list_first": [f"{t}?user={u}" for u in samples["users"]],
        "list_deep": [f"{t}?user={u}&after={c}" for u, c in samples["deep_users"]],
        "list_all_deep": [f"{t}?after={c}" for c in samples["deep_threads"]],
        "items_short": [f"{t}/{tid}/items?limit=10" for tid in samples["short_threads"]],
        "protocol_get": [protocol_line(tid, u) for tid, u in samples["threads"]],
    }
    if samples["long_threads"]:
        files["items_long_first"] = [f"{t}/{tid}/items?limit=10" for tid in samples["long_threads"]]
        # Like for like with the first pages (10 long threads, so 10 distinct pages):
        # 10 deep cursors per long thread, 50,000 to 100,000 items deep. The cold variant
        # spreads 20,000 random cursors over 500,000 items, so it mostly measures page
        # cache misses (reported, no target).
        per_thread: dict[str, list[str]] = {}
        for tid, c in samples["deep_items"]:
            per_thread.setdefault(tid, []).append(c)
        files["items_long_deep"] = [
            f"{t}/{tid}/items?limit=10&after={c}"
            for tid, cursors in per_thread.items()
            for c in cursors[:10]
        ]
        files["items_long_deep_cold"] = [
            f"{t}/{tid}/items?limit=10&after={c}" for tid, c in samples["deep_items"]
        ]
    return {
        name: write_lines(folder / f"{prefix}-{name}.txt", lines)
        for name, lines in files.items()
        if lines
    }


def has_protocol(server: Server) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/chatkit", body=b"{}", headers={"Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    return status != 404


# --- load -----------------------------------------------------------------------------------


def paired_order(
    plan: list[tuple[str, str, Path, str | None]], round_index: int
) -> list[tuple[str, str, Path, str | None]]:
    """The plan for one round: as planned in even rounds, reversed in odd ones, so that
    of any two runs compared (threadkit and the reference app, 1M and 1k threads, a
    ``--variant`` or the ``--compare-db`` database and threadkit as it is) each goes
    first in half the rounds. A fixed order is a bias of its own here: the same server
    compared with itself as its own "variant", always run last, measured 0.92 of itself
    over 8 rounds."""
    return list(plan) if round_index % 2 == 0 else list(reversed(plan))


def fmt_ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference else "-"


def cmd_load(args: argparse.Namespace) -> dict[str, Any]:
    full_meta, full_samples = load_data(args.full)
    small_meta, small_samples = load_data(args.small) if args.small else ({}, {})
    work = Path(tempfile.mkdtemp(prefix="threadkit-bench-req-"))
    full_files = scenario_files(full_samples, work, "full")
    small_files = scenario_files(small_samples, work, "small") if args.small else {}
    # PostgreSQL: every server here holds a pool per worker, all at once; the same size
    # for threadkit and the reference app, small enough to leave connections to others.
    pool = args.pg_pool
    env = {"THREADKIT_PG_POOL_MAX": str(pool), "THREADKIT_PG_POOL_MIN": "1"}
    workers_list = [int(w) for w in args.workers.split(",")]
    db = full_meta["database_url"]
    servers: dict[str, Server] = {}
    for w in workers_list:
        servers[f"ref-{w}w"] = reference_server(f"ref-{w}w", db, w, "uvicorn", pool)
        servers[f"tk-{w}w"] = threadkit_server(f"tk-{w}w", db, w, env, args.engine)
    first = workers_list[0]
    # Yardsticks for the server choice: the reference app on granian, threadkit on uvicorn.
    servers[f"refgranian-{first}w"] = reference_server(
        f"refgranian-{first}w", db, first, "granian", pool
    )
    other = "uvicorn" if args.engine == "granian" else "granian"
    servers[f"tk{other}-{first}w"] = threadkit_server(f"tk{other}-{first}w", db, first, env, other)
    if args.small:
        servers["tk-small-1w"] = threadkit_server(
            "tk-small-1w", small_meta["database_url"], 1, env, args.engine
        )
    if args.variant:
        name = f"tk-variant-{first}w"
        servers[name] = threadkit_server(name, db, first, {**env, **variant(args)}, args.engine)
    if args.compare_db:
        name = f"tk-compare-{first}w"
        servers[name] = threadkit_server(name, args.compare_db, first, env, args.engine)
    server_cpus, wrk_cpus = args.pin.split(":") if args.pin else (None, None)
    for server in servers.values():
        server.cpus = server_cpus
    results: dict[str, list[Result]] = {}
    wanted = set(args.scenarios.split(",")) if args.scenarios else None
    databases = [db, small_meta.get("database_url"), args.compare_db]
    with contextlib.ExitStack() as stack:
        for url in databases:
            if url:
                stack.enter_context(resident(url))
        stack.enter_context(running(list(servers.values())))
        protocol = has_protocol(servers[f"tk-{first}w"])
        scenarios = [s for s in full_files if s != "protocol_get" or protocol]
        small_scenarios = ["retrieve", "list_first", "items_short"] if args.small else []
        if wanted is not None:
            scenarios = [s for s in scenarios if s in wanted]
            small_scenarios = [s for s in small_scenarios if s in wanted]
        plan: list[tuple[str, str, Path, str | None]] = []
        for w in workers_list:
            plan.append((f"ref-{w}w", "reference", full_files["retrieve"], None))
            if w == first and wanted is None:
                plan.append((f"refgranian-{w}w", "reference", full_files["retrieve"], None))
                plan.append(
                    (f"tk{other}-{w}w", "retrieve", full_files["retrieve"], full_meta["key"])
                )
            others = [s for s in ("retrieve", "list_first") if s in scenarios]
            for s in scenarios if w == first else others:
                plan.append((f"tk-{w}w", s, full_files[s], full_meta["key"]))
                if w == first and s in small_scenarios:
                    # Beside the same scenario on the full set (after it, or before it in
                    # every other round): the 1M vs 1k ratio compares runs seconds apart.
                    plan.append(("tk-small-1w", s, small_files[s], small_meta["key"]))
                if w == first and args.variant:
                    plan.append((f"tk-variant-{w}w", s, full_files[s], full_meta["key"]))
                if w == first and args.compare_db:
                    plan.append((f"tk-compare-{w}w", s, full_files[s], full_meta["key"]))
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            for server_name, scenario, path, key in paired_order(plan, r):
                # Each measurement follows a warm-up of the same scenario: what is measured
                # is its steady state, not the page cache the previous scenario left.
                server = servers[server_name]
                wrk(server, path, key=key, duration=args.warmup, cpus=wrk_cpus)
                result = wrk(server, path, key=key, duration=args.duration, cpus=wrk_cpus)
                results.setdefault(f"{server_name}/{scenario}", []).append(result)
                print(
                    f"  {server_name:12} {scenario:18} {result.rps:9.0f} req/s"
                    f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
                    f"  errors {result.errors}  wrk {result.wrk_cores:.2f} cores"
                    f"  server {result.server_cores:.2f} cores"
                    f"  disk {result.server_disk_mb:.0f} MiB",
                    flush=True,
                )
        memory = {name: s.peak_rss() for name, s in servers.items()}
    shutil.rmtree(work, ignore_errors=True)
    summary = {k: Result.median(v) for k, v in results.items()}
    report = load_report(results, workers_list, full_meta, small_meta, memory, args)
    print(report)
    return {
        "runs": {k: [r.__dict__ for r in v] for k, v in results.items()},
        "medians": {k: v.__dict__ for k, v in summary.items()},
        "peak_rss_mb": memory,
        "report": report,
    }


def load_report(
    results: dict[str, list[Result]],
    workers_list: list[int],
    full_meta: dict[str, Any],
    small_meta: dict[str, Any],
    memory: dict[str, list[float]],
    args: argparse.Namespace,
) -> str:
    """The markdown table and the targets. A ratio is taken within each round (against
    the reference app's run of that round, same worker count), then the median."""
    summary = {k: Result.median(v) for k, v in results.items()}
    first = workers_list[0]

    def reference(key: str) -> list[Result]:
        w = key.split("/")[0].rsplit("-", 1)[1]
        return results.get(f"ref-{w}/reference") or results[f"ref-{first}w/reference"]

    def ratio(a: list[Result], b: list[Result], field: str) -> float:
        pairs = zip(a, b, strict=False)
        return statistics.median(getattr(x, field) / getattr(y, field) for x, y in pairs)

    small = (
        f"small data: {small_meta['threads']:,} threads, {small_meta['items']:,} items"
        if small_meta
        else "no small data"
    )
    lines = [
        f"backend: {full_meta['backend']}; full data: {full_meta['threads']:,} threads,"
        f" {full_meta['items']:,} items; {small}; threadkit on {args.engine}",
        f"wrk: 1 thread, 64 connections, {args.rounds} rounds x {args.duration} s; figures are"
        " medians over rounds, ratios are medians of per-round ratios against the reference"
        " app on uvicorn (ref) with the same number of workers",
        "",
        "| server | scenario | req/s | ratio | p50 ms | ratio | p99 ms | p99/p50 | errors |"
        " wrk cores | server cores | disk MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, r in summary.items():
        server_name, scenario = key.split("/")
        ref = reference(key)
        lines.append(
            f"| {server_name} | {scenario} | {r.rps:,.0f} | {ratio(results[key], ref, 'rps'):.2f}"
            f" | {r.p50_ms:.2f} | {ratio(results[key], ref, 'p50_ms'):.2f} | {r.p99_ms:.2f} |"
            f" {r.p99_ms / r.p50_ms:.1f} | {r.errors} | {r.wrk_cores:.2f} |"
            f" {r.server_cores:.2f} | {r.server_disk_mb:.0f} |"
        )
    lines += ["", "| process | peak RSS per worker (MiB) |", "| --- | --- |"]
    for name, values in memory.items():
        lines.append(f"| {name} | {', '.join(f'{v:.0f}' for v in values)} |")

    lines += ["", "targets:"]
    w1 = f"tk-{first}w"
    checks: list[tuple[str, float, float, str]] = []

    def check(label: str, a: str, b: str, field: str, bound: float, op: str) -> None:
        if a in results and b in results:
            checks.append((label, ratio(results[a], results[b], field), bound, op))

    check(
        "retrieve req/s vs reference",
        f"{w1}/retrieve",
        f"ref-{first}w/reference",
        "rps",
        0.85,
        ">=",
    )
    for scenario in ("retrieve", "list_first"):
        check(
            f"{scenario} p50, 1M vs 1k threads",
            f"{w1}/{scenario}",
            f"tk-small-1w/{scenario}",
            "p50_ms",
            1.2,
            "<=",
        )
    pairs = [
        ("list_deep", "list_first", "user list: deep page vs first page"),
        ("list_all_deep", "list_first", "project list deep page vs user list first page"),
        ("items_long_deep", "items_long_first", "100,000-item thread: deep vs first page"),
        ("items_long_first", "items_short", "items: 100,000-item vs 10-item thread"),
    ]
    for deep, base, label in pairs:
        check(f"{label} (p50)", f"{w1}/{deep}", f"{w1}/{base}", "p50_ms", 1.3, "<=")
    check(
        "items: 100,000-item thread (1M db) vs 10-item thread (1k db) (p50)",
        f"{w1}/items_long_first",
        "tk-small-1w/items_short",
        "p50_ms",
        1.3,
        "<=",
    )
    worst = max(r.p99_ms / r.p50_ms for k, r in summary.items() if k.startswith("tk-"))
    checks.append(("worst p99/p50 of threadkit runs", worst, 5.0, "<="))
    errors = sum(r.errors for k, r in summary.items())
    checks.append(("errors (all runs)", float(errors), 0.0, "<="))
    if len(workers_list) > 1:
        check(
            "retrieve, 2 workers vs 1",
            f"tk-{workers_list[1]}w/retrieve",
            f"{w1}/retrieve",
            "rps",
            1.6,
            ">=",
        )
        check(
            "reference app, 2 workers vs 1",
            f"ref-{workers_list[1]}w/reference",
            f"ref-{first}w/reference",
            "rps",
            1.6,
            ">=",
        )
    for label, value, bound, op in checks:
        met = value >= bound if op == ">=" else value <= bound
        lines.append(f"- {label}: {value:.2f} (target {op} {bound}) {'met' if met else 'NOT met'}")
    if args.variant:
        variant = f"tk-variant-{first}w"
        lines += ["", f"{variant} ({args.variant}) vs {w1}, medians of per-round ratios:"]
        for key in results:
            name, scenario = key.split("/")
            if name == variant and f"{w1}/{scenario}" in results:
                base = results[f"{w1}/{scenario}"]
                lines.append(
                    f"- {scenario}: req/s {ratio(results[key], base, 'rps'):.2f},"
                    f" p50 {ratio(results[key], base, 'p50_ms'):.2f}"
                )
    if args.compare_db:
        lines += compare_report(results, f"tk-compare-{first}w", w1, args.compare_db)
    return "\n".join(lines)


def compare_report(
    results: dict[str, list[Result]], compare: str, base: str, url: str
) -> list[str]:
    """The full data as it is against the ``--compare-db`` database: medians of the
    per-round ratios, and the bound of "within 10 %" on each."""
    lines = [
        "",
        f"{base} (full data as it is) vs {compare} ({url}), medians of per-round ratios:",
    ]
    for key in results:
        name, scenario = key.split("/")
        if name != compare or f"{base}/{scenario}" not in results:
            continue
        pairs = list(zip(results[f"{base}/{scenario}"], results[key], strict=False))
        rps = statistics.median(a.rps / b.rps for a, b in pairs)
        p50 = statistics.median(a.p50_ms / b.p50_ms for a, b in pairs)
        met = rps >= 1 / 1.1 and p50 <= 1.1
        lines.append(
            f"- {scenario}: req/s {rps:.2f} (per round: "
            + ", ".join(f"{a.rps / b.rps:.2f}" for a, b in pairs)
            + f"), p50 {p50:.2f} (per round: "
            + ", ".join(f"{a.p50_ms / b.p50_ms:.2f}" for a, b in pairs)
            + f"); within 10 %: {'met' if met else 'NOT met'}"
        )
    return lines


# --- soak -----------------------------------------------------------------------------------


def cmd_soak(args: argparse.Namespace) -> dict[str, Any]:
    meta, samples = load_data(args.full)
    work = Path(tempfile.mkdtemp(prefix="threadkit-bench-req-"))
    files = scenario_files(samples, work, "soak")
    env = {}
    if args.sqlite_cache_mib is not None:
        env["THREADKIT_SQLITE_CACHE_MIB"] = str(args.sqlite_cache_mib)
    server = threadkit_server("tk-soak", meta["database_url"], args.workers, env)
    mix = {
        "retrieve": 50,
        "list_first": 15,
        "list_deep": 5,
        "items_short": 15,
        "items_long_deep": 5,
        "items_long_first": 5,
        "list_all_deep": 5,
    }
    rng = random.Random(1)
    lines: list[str] = []
    for name, weight in mix.items():
        if name in files:
            pool = files[name].read_text().splitlines()
            lines += rng.choices(pool, k=weight * 200)
    samples_rss: list[tuple[float, list[float]]] = []
    with resident(meta["database_url"]), running([server]):
        if has_protocol(server):
            pool = files["protocol_get"].read_text().splitlines()
            lines += rng.choices(pool, k=10 * 200)
            # Writes: 1% new threads over the protocol (echo workflow, streamed answer).
            for i in range(200):
                body = orjson.dumps(
                    {
                        "type": "threads.create",
                        "params": {
                            "input": {
                                "content": [{"type": "input_text", "text": f"Soak {i}"}],
                                "attachments": [],
                                "inference_options": {},
                            }
                        },
                    }
                ).decode()
                lines.append(
                    f"POST\t/chatkit\t{body}\tContent-Type: application/json"
                    f"|{USER_HEADER}: user_soak_{i % 50:02d}"
                )
        rng.shuffle(lines)
        mixed = write_lines(work / "mixed.txt", lines)
        env = {**os.environ, "BENCH_REQUESTS": str(mixed), "BENCH_KEY": meta["key"]}
        command = ["wrk", "-t1", "-c64", f"-d{args.duration}s", "--timeout", "10s"]
        command += ["-s", str(LUA), server.url]
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
        while process.poll() is None:
            samples_rss.append((time.monotonic() - started, server.rss()))
            time.sleep(args.sample_every)
        out = process.stdout.read().decode() if process.stdout else ""
        peak = server.peak_rss()
    shutil.rmtree(work, ignore_errors=True)
    line = next(x for x in out.splitlines() if x.startswith("BENCH_RESULT "))
    data = orjson.loads(line.removeprefix("BENCH_RESULT "))
    after_first = [rss for t, rss in samples_rss if t >= min(60, args.duration / 2)]
    base = after_first[0]
    final = samples_rss[-1][1]
    top = [max(rss[i] for rss in after_first) for i in range(len(base))]
    growth = [(top[i] - base[i]) / base[i] for i in range(len(base))]
    report = "\n".join(
        [
            f"soak: {args.duration} s mixed load, {args.workers} worker(s), wrk 64 connections"
            + (f", SQLite cache {args.sqlite_cache_mib} MiB" if args.sqlite_cache_mib else ""),
            f"requests {data['requests']:,}, errors {sum(data['errors'].values())},"
            f" {data['requests'] / (data['duration_us'] / 1e6):,.0f} req/s,"
            f" p50 {data['latency_us']['p50'] / 1000:.2f} ms,"
            f" p99 {data['latency_us']['p99'] / 1000:.2f} ms",
            f"RSS per worker at {min(60, args.duration / 2):.0f} s (MiB): "
            + ", ".join(f"{v:.1f}" for v in base),
            "highest RSS after that (MiB): " + ", ".join(f"{v:.1f}" for v in top),
            "RSS at the end (MiB): " + ", ".join(f"{v:.1f}" for v in final),
            "peak RSS (MiB): " + ", ".join(f"{v:.1f}" for v in peak),
            "growth after the first minute: "
            + ", ".join(f"{100 * g:.1f}%" for g in growth)
            + f" (target < 10%: {'met' if max(growth) < 0.10 else 'NOT met'})",
        ]
    )
    print(report)
    return {"rss_samples": samples_rss, "wrk": data, "growth": growth, "report": report}


# --- sse ------------------------------------------------------------------------------------


def first_event_ms(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> float:
    """Milliseconds from sending a streamed request to its first SSE event; reads the rest."""
    started = time.perf_counter()
    conn.request("POST", "/chatkit", body=body, headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"POST /chatkit: {response.status} {response.read()[:300]!r}")
    first = None
    while True:
        line = response.readline()
        if not line:
            break
        if first is None and line.startswith(b"data:"):
            first = (time.perf_counter() - started) * 1000
    if first is None:
        raise RuntimeError("the stream had no event")
    return first


def cmd_sse(args: argparse.Namespace) -> dict[str, Any]:
    meta, _ = load_data(args.full)
    server = threadkit_server("tk-sse", meta["database_url"], 1, {})
    user = "user_sse_bench"
    headers = {
        "Authorization": f"Bearer {meta['key']}",
        "X-ChatKit-User": user,
        "Content-Type": "application/json",
    }

    def user_input(text: str) -> dict[str, Any]:
        content = [{"type": "input_text", "text": text}]
        return {"content": content, "attachments": [], "inference_options": {}}

    timings: list[float] = []
    with resident(meta["database_url"]), running([server]):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        create = {"type": "threads.create", "params": {"input": user_input("Hello!")}}
        first_event_ms(conn, orjson.dumps(create), headers)
        conn.request(
            "POST",
            "/chatkit",
            body=orjson.dumps({"type": "threads.list", "params": {"limit": 1}}),
            headers=headers,
        )
        thread_id = orjson.loads(conn.getresponse().read())["data"][0]["id"]
        for i in range(args.warmup + args.messages):
            body = orjson.dumps(
                {
                    "type": "threads.add_user_message",
                    "params": {"thread_id": thread_id, "input": user_input(f"Message {i}")},
                }
            )
            ms = first_event_ms(conn, body, headers)
            if i >= args.warmup:
                timings.append(ms)
            time.sleep(args.pause)
        conn.close()
    timings.sort()

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, int(p / 100 * len(timings)))]

    report = (
        f"first SSE event of threads.add_user_message (echo workflow, {meta['backend']},"
        f" one client, {args.messages} messages {args.pause * 1000:.0f} ms apart):"
        f" p50 {pct(50):.2f} ms, p90 {pct(90):.2f} ms, p99 {pct(99):.2f} ms"
        f" (target p50 <= 20 ms: {'met' if pct(50) <= 20 else 'NOT met'})"
    )
    print(report)
    return {"first_event_ms": timings, "report": report}


# --- search ---------------------------------------------------------------------------------


def search_scenarios(meta: dict[str, Any], samples: dict[str, Any]) -> dict[str, list[str]]:
    """Request targets per search scenario, each a list to go through in turn.

    The generated messages use 32 words only, so each of them is common (in most of the
    10,000,000 messages); every title ends in its thread's number (``#123456``), a word
    no other thread holds: the rare word.
    """
    sys.path.insert(0, str(HERE))
    from generate import WORDS  # type: ignore[import-not-found]

    rng = random.Random(11)
    users = samples["users"]
    # Numbers with as many digits as the highest: a prefix of no other thread's number.
    low = 10 ** (len(str(meta["threads"] - 1)) - 1)
    numbers = [str(rng.randrange(low, meta["threads"])) for _ in range(500)]

    def target(**query: str) -> str:
        return "/v1/chatkit/threads?" + "&".join(f"{k}={v}" for k, v in query.items())

    return {
        "list_first": [target() for _ in range(50)],
        "rare_word": [target(q=n) for n in numbers],
        "rare_word_user": [target(q=n, user=rng.choice(users)) for n in numbers],
        "common_word": [target(q=rng.choice(WORDS)) for _ in range(500)],
        "two_common_words": [
            target(q=f"{rng.choice(WORDS)}+{rng.choice(WORDS)}") for _ in range(500)
        ],
        "common_prefix": [target(q=rng.choice(WORDS)[:3]) for _ in range(500)],
        "common_word_user": [
            target(q=rng.choice(WORDS), user=rng.choice(users)) for _ in range(500)
        ],
        "no_match": [target(q=f"zz{rng.randrange(10**6)}x") for _ in range(500)],
    }


def cmd_search(args: argparse.Namespace) -> dict[str, Any]:
    """Sequential searches on one connection (no load beside them): per scenario p50 and
    p99 of the answer time, in rounds interleaving the scenarios."""
    meta, samples = load_data(args.full)
    scenarios = search_scenarios(meta, samples)
    server = threadkit_server("tk-search", meta["database_url"], 1, {})
    headers = {"Authorization": f"Bearer {meta['key']}", "OpenAI-Beta": "chatkit_beta=v1"}
    timings: dict[str, list[float]] = {name: [] for name in scenarios}
    found: dict[str, list[int]] = {name: [] for name in scenarios}
    with resident(meta["database_url"]), running([server]):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        for rnd in range(args.rounds):
            for name, targets in scenarios.items():
                share = len(targets) // args.rounds
                mine = targets[rnd * share : (rnd + 1) * share]
                for i, path in enumerate(mine):
                    started = time.perf_counter()
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    body = response.read()
                    ms = (time.perf_counter() - started) * 1000
                    if response.status != 200:
                        raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
                    if i >= args.warmup:  # the first of each round after other scenarios
                        timings[name].append(ms)
                        found[name].append(len(orjson.loads(body)["data"]))
            print(f"  round {rnd + 1} done", flush=True)
        conn.close()
    lines = [
        f"searches on {meta['backend']}, {meta['threads']:,} threads / {meta['items']:,} items,"
        " one client, one worker:",
        "",
        "| scenario | requests | threads found (median) | p50 ms | p90 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, ms in timings.items():
        ms.sort()

        def pct(p: float, ms: list[float] = ms) -> float:
            return ms[min(len(ms) - 1, int(p / 100 * len(ms)))]

        lines.append(
            f"| {name} | {len(ms)} | {statistics.median(found[name]):.0f} | {pct(50):.2f}"
            f" | {pct(90):.2f} | {pct(99):.2f} |"
        )
    report = "\n".join(lines)
    print(report)
    return {"timings_ms": timings, "found": found, "report": report}


# --- import ---------------------------------------------------------------------------------


@dataclass
class ImportSide:
    """One side of the import comparison: its environment, and whether the search index's
    maintenance is removed from the schema after migrating (``--without-search``)."""

    env: dict[str, str]
    without_search: bool = False
    seconds: list[float] = field(default_factory=list)
    #: the SQLite-alone yardstick after each run (SQLite only)
    floors: list[float] = field(default_factory=list)
    #: ``threadkit index-search`` right after each run: the backlog the import left
    indexing: list[float] = field(default_factory=list)


def cmd_import(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from generate import Ids, item_rows, thread_row  # type: ignore[import-not-found]

    rng = random.Random(7)
    ids = Ids(rng)
    work = Path(tempfile.mkdtemp(prefix="threadkit-bench-import-", dir=args.tmp))
    source = work / "import.jsonl"
    threads = args.items // args.items_per_thread
    with source.open("wb") as out:
        for i in range(threads):
            row = thread_row(i, ids.thread(), f"user_{i % 100:05d}", rng)
            out.write(orjson.dumps(row.to_rest()) + b"\n")
            for item in item_rows(row, args.items_per_thread, ids, rng):
                out.write(item.payload.encode() + b"\n")
    size = source.stat().st_size
    items = threads * args.items_per_thread
    sides = {"threadkit": ImportSide(dict(os.environ))}
    if args.variant:
        sides["variant"] = ImportSide({**os.environ, **variant(args)})
    if args.without_search:
        sides["without-search"] = ImportSide(dict(os.environ), without_search=True)
    target = "a new PostgreSQL database" if args.postgres else "a new SQLite file"
    for rep in range(args.repeat):
        # Alternated, the order reversed in every other round: neither side always meets
        # the machine's state the other one left.
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for name in order:
            side = sides[name]
            if args.postgres:
                seconds, floor = import_postgres(args.postgres, source, side)
            else:
                seconds, floor = import_once(work, source, side)
            side.seconds.append(seconds)
            alone = ""
            if floor is not None:
                side.floors.append(floor)
                alone = f", SQLite alone {items / floor:,.0f}"
            print(f"  run {rep + 1} {name}: {items / seconds:,.0f} items/s{alone}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    lines = []
    for name, side in sides.items():
        rate = items / statistics.median(side.seconds)
        lines.append(
            f"{name} import: {threads:,} threads + {items:,} items ({size / 2**20:.0f} MiB"
            f" JSONL) into {target}, median of {args.repeat} runs: {rate:,.0f} items/s"
            f" (runs: {', '.join(f'{items / t:,.0f}' for t in side.seconds)};"
            f" target >= 50,000: {'met' if rate >= 50_000 else 'NOT met'})"
        )
        if side.indexing:
            lines.append(
                f"{name}: then indexing the import for search (threadkit index-search, not"
                f" in the import's time), per run: {', '.join(f'{t:.1f}' for t in side.indexing)}"
                f" s; median {items / statistics.median(side.indexing):,.0f} items/s"
            )
        if side.floors:
            ratios = [f / t for t, f in zip(side.seconds, side.floors, strict=True)]
            lines.append(
                "SQLite alone, the same rows copied by one INSERT ... SELECT per table into a"
                " new file with the same schema and settings, right after each run:"
                f" {', '.join(f'{items / t:,.0f}' for t in side.floors)} items/s;"
                f" import / SQLite alone per run: {', '.join(f'{r:.2f}' for r in ratios)}"
            )
    base = sides["threadkit"].seconds
    if args.variant:
        paired = [b / v for b, v in zip(base, sides["variant"].seconds, strict=True)]
        lines.append(
            f"variant ({args.variant}) items/s vs threadkit's, per round:"
            f" {', '.join(f'{r:.2f}' for r in paired)}; median {statistics.median(paired):.2f}"
        )
    if args.without_search:
        # time with the index / time without it, per round
        paired = [b / w for b, w in zip(base, sides["without-search"].seconds, strict=True)]
        median = statistics.median(paired)
        lines.append(
            "import time with the search index / without it, per round:"
            f" {', '.join(f'{r:.2f}' for r in paired)}; median {median:.2f}"
            f" (items/s {1 / median:.2f} of the rate without it);"
            f" within 25 %: {'met' if median <= 1.25 else 'NOT met'}"
        )
    report = "\n".join(lines)
    print(report)
    return {
        "items": items,
        "target": target,
        "seconds": {name: side.seconds for name, side in sides.items()},
        "sqlite_alone_seconds": {name: side.floors for name, side in sides.items()},
        "report": report,
    }


def migrate_for(db: str, side: ImportSide) -> None:
    """The schema of the import's new database, stripped of search for that side."""
    subprocess.run(
        [PYTHON, "-m", "threadkit", "migrate", "--db", db],
        check=True,
        capture_output=True,
        env=side.env,
    )
    if side.without_search:
        sys.path.insert(0, str(HERE))
        import without_search  # type: ignore[import-not-found]

        without_search.strip(db)


def timed_import(source: Path, db: str, side: ImportSide) -> float:
    """``threadkit import``'s time; then, outside it, how long indexing its rows for search
    takes (``side.indexing``), unless the side has no search index."""
    seconds = timed_command(["import", str(source), "--db", db, "--project", "bench"], side)
    if not side.without_search:
        side.indexing.append(timed_command(["index-search", "--db", db], side))
    return seconds


def timed_command(args: list[str], side: ImportSide) -> float:
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "-m", "threadkit", *args], check=True, capture_output=True, env=side.env
    )
    return time.perf_counter() - started


def import_once(work: Path, source: Path, side: ImportSide) -> tuple[float, float]:
    """One ``threadkit import`` of ``source`` into a new file, then its yardstick."""
    for leftover in work.glob("*.db*"):
        leftover.unlink()
    db = f"sqlite:///{work / 'import.db'}"
    migrate_for(db, side)
    seconds = timed_import(source, db, side)
    # right after each import: the yardstick meets the same state of the machine
    return seconds, sqlite_copy_seconds(work / "import.db", work / "copy.db", side)


def import_postgres(server_url: str, source: Path, side: ImportSide) -> tuple[float, None]:
    """One ``threadkit import`` of ``source`` into a new database of the PostgreSQL server
    of ``server_url``, dropped afterwards."""
    import asyncio

    import asyncpg

    sys.path.insert(0, str(HERE))
    from without_search import with_database  # type: ignore[import-not-found]

    name = f"threadkit_bench_import_{os.getpid()}"
    admin = with_database(server_url, "postgres")

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(execute(f"CREATE DATABASE {name}"))
    try:
        db = with_database(server_url, name)
        migrate_for(db, side)
        return timed_import(source, db, side), None
    finally:
        asyncio.run(execute(f"DROP DATABASE IF EXISTS {name}"))


def sqlite_copy_seconds(source: Path, target: Path, side: ImportSide) -> float:
    """The floor under any import on this machine: SQLite inserting the imported rows
    into the same schema (WAL, synchronous=FULL, the import's 256 MiB page cache, one
    transaction, rows in their stored order), with no parsing or Python per row (and no
    search index: the statements that add to it are the store's, not SQLite's)."""
    migrate_for(f"sqlite:///{target}", side)
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(f"PRAGMA cache_size = {-256 * 1024}")
    conn.execute("ATTACH DATABASE ? AS source", (str(source),))
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for table in ("threads", "items"):
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM source.{table} ORDER BY seq")
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="the wrk table against the reference app")
    load.add_argument("--full", type=Path, required=True, help="output folder of generate.py")
    load.add_argument(
        "--small",
        type=Path,
        default=None,
        help="the small scale's folder (without it, no 1M vs 1k ratios)",
    )
    load.add_argument("--workers", default="1,2")
    load.add_argument("--duration", type=int, default=10)
    load.add_argument("--warmup", type=int, default=3, help="seconds before each measured run")
    load.add_argument("--pg-pool", type=int, default=4, help="PostgreSQL pool size per worker")
    load.add_argument("--rounds", type=int, default=3)
    load.add_argument(
        "--scenarios",
        default=None,
        help="comma-separated subset of threadkit's scenarios (for quick checks; the"
        " full table and its target checks need all of them)",
    )
    load.add_argument(
        "--pin",
        default=None,
        metavar="SERVER_CPUS:WRK_CPUS",
        help="run every server on SERVER_CPUS and wrk on WRK_CPUS (taskset lists, e.g."
        " 0:1), so the scheduler cannot move them onto each other's cores",
    )
    load.add_argument(
        "--variant",
        default=None,
        metavar="SETTING=VALUE",
        help="also run threadkit with this environment setting (several: separated by"
        " spaces) on the full data (first"
        " worker count only), each scenario right after the unchanged server's run of it",
    )
    load.add_argument(
        "--compare-db",
        default=None,
        metavar="URL",
        help="also run threadkit on this database, a copy of the full data's (e.g. without"
        " the search index: bench/without_search.py), first worker count only, interleaved"
        " with the full data's runs; prints the ratios between the two",
    )
    load.add_argument(
        "--engine",
        choices=["granian", "uvicorn"],
        default="granian",
        help="threadkit serve --server (the other one is measured for retrieve)",
    )
    soak = sub.add_parser("soak", help="mixed load; worker memory growth")
    soak.add_argument("--full", type=Path, required=True)
    soak.add_argument("--duration", type=int, default=600)
    soak.add_argument("--workers", type=int, default=1)
    soak.add_argument("--sample-every", type=float, default=5)
    soak.add_argument(
        "--sqlite-cache-mib", type=int, default=None, help="THREADKIT_SQLITE_CACHE_MIB"
    )
    sse = sub.add_parser("sse", help="first SSE event latency, echo workflow")
    sse.add_argument("--full", type=Path, required=True)
    sse.add_argument("--messages", type=int, default=200)
    sse.add_argument("--warmup", type=int, default=10)
    sse.add_argument("--pause", type=float, default=0.02, help="seconds between messages")
    imp = sub.add_parser("import", help="bulk import speed through `threadkit import`")
    imp.add_argument("--items", type=int, default=1_000_000)
    imp.add_argument("--items-per-thread", type=int, default=100)
    imp.add_argument("--repeat", type=int, default=3, help="imports, each with its yardstick")
    imp.add_argument("--tmp", default=None, help="folder for the temporary files")
    imp.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="import into a new database of this PostgreSQL server (URL of any of its"
        " databases) instead of a new SQLite file; the database is dropped after each run",
    )
    imp.add_argument(
        "--without-search",
        action="store_true",
        help="also import into a schema stripped of the search index after migrating"
        " (bench/without_search.py), alternated with the unchanged runs",
    )
    imp.add_argument(
        "--variant",
        default=None,
        metavar="SETTING=VALUE",
        help="also import with this environment setting (e.g. PYTHONPATH=<other checkout>),"
        " alternated with the unchanged runs",
    )
    search = sub.add_parser("search", help="full-text search latency, one client")
    search.add_argument("--full", type=Path, required=True)
    search.add_argument("--rounds", type=int, default=5)
    search.add_argument("--warmup", type=int, default=3, help="requests per round not counted")
    for p in (load, soak, sse, imp, search):
        p.add_argument("--json", type=Path, help="also save every figure here")
    args = parser.parse_args()
    # On SIGTERM, unwind (so the servers started here are stopped too).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.command not in ("import", "search") and shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    commands = {
        "load": cmd_load,
        "soak": cmd_soak,
        "sse": cmd_sse,
        "import": cmd_import,
        "search": cmd_search,
    }
    result = commands[args.command](args)
    if args.json:
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
