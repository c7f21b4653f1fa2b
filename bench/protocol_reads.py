"""Protocol reads vs the REST retrieve of the same threads, on the same server, in one run.

``threads.get_by_id``, ``items.list`` (limit 20) and ``threads.list`` (limit 20) over
``POST /chatkit``, with a project key and ``X-ChatKit-User`` and with a session secret
(rate limit on, set high enough never to refuse), against ``GET /v1/chatkit/threads/{id}``
with the same key, interleaved in rounds on one ``threadkit serve`` (1 worker, granian).
The ratio of each scenario to the retrieve is taken within a round; the median over the
rounds is printed. ``--generic`` adds a second server with
``THREADKIT_PROTOCOL_FAST_READS=0`` (the ``ChatKitServer`` path) for the same scenarios.
Run from the checkout, so that ``-m threadkit`` is its code::

    .venv/bin/python bench/protocol_reads.py --data bench-data/small bench-data/small-pg \\
        [--rounds 4] [--duration 5] [--generic]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # type: ignore[import-not-found]
    USER_HEADER,
    Result,
    Server,
    load_data,
    running,
    threadkit_server,
    write_lines,
    wrk,
)

JSON = "Content-Type: application/json"


def sessions(server: Server, key: str, users: list[str]) -> dict[str, str]:
    """A client secret per user, its rate limit far above what a run sends."""
    secrets = {}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for user in users:
            response = client.post(
                "/v1/chatkit/sessions",
                json={
                    "user": user,
                    "workflow": {"id": "echo"},
                    "rate_limits": {"max_requests_per_1_minute": 2**31 - 1},
                },
                headers={"Authorization": f"Bearer {key}", "OpenAI-Beta": "chatkit_beta=v1"},
            )
            response.raise_for_status()
            secrets[user] = response.json()["client_secret"]
    return secrets


def scenario_lines(
    samples: dict[str, Any], secrets: dict[str, str]
) -> dict[str, tuple[list[str], bool]]:
    """Request lines per scenario, and whether the project key goes with them."""
    threads = samples["threads"][:2000]

    def post(kind: str, params: dict[str, Any], headers: str) -> str:
        body = orjson.dumps({"type": kind, "params": params}).decode()
        return f"POST\t/chatkit\t{body}\t{JSON}|{headers}"

    out: dict[str, tuple[list[str], bool]] = {
        "retrieve": ([f"/v1/chatkit/threads/{t}" for t, _ in threads], True)
    }
    for auth in ("key", "secret"):

        def who(user: str, auth: str = auth) -> str:
            if auth == "key":
                return f"{USER_HEADER}: {user}"
            return f"Authorization: Bearer {secrets[user]}"

        with_key = auth == "key"
        out[f"get_{auth}"] = (
            [post("threads.get_by_id", {"thread_id": t}, who(u)) for t, u in threads],
            with_key,
        )
        out[f"items_{auth}"] = (
            [post("items.list", {"thread_id": t, "limit": 20}, who(u)) for t, u in threads],
            with_key,
        )
        out[f"list_{auth}"] = (
            [post("threads.list", {"limit": 20}, who(u)) for u in samples["users"]],
            with_key,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--generic", action="store_true", help="also the ChatKitServer path")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:VAR=VALUE[,VAR=VALUE]",
        help="also a server with these environment variables, against its own retrieve",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    for folder in args.data:
        meta, samples = load_data(folder)
        servers = [threadkit_server("tk", meta["database_url"], 1, {})]
        if args.generic:
            servers.append(
                threadkit_server(
                    "tk-generic", meta["database_url"], 1, {"THREADKIT_PROTOCOL_FAST_READS": "0"}
                )
            )
        for variant in args.variant:
            name, _, assignments = variant.partition(":")
            env = dict(a.split("=", 1) for a in assignments.split(",") if a)
            servers.append(threadkit_server(name, meta["database_url"], 1, env))
        work = Path(tempfile.mkdtemp(prefix="protocol-reads-"))
        with running(servers):
            secrets = sessions(servers[0], meta["key"], sorted({u for _, u in samples["threads"]}))
            files = {
                name: (write_lines(work / f"{name}.txt", lines), with_key)
                for name, (lines, with_key) in scenario_lines(samples, secrets).items()
            }
            results: dict[str, list[Result]] = {}
            for _ in range(args.rounds):
                for server in servers:
                    for name, (path, with_key) in files.items():
                        if server.name == "tk-generic" and name == "retrieve":
                            continue
                        key = meta["key"] if with_key else None
                        wrk(server, path, key=key, duration=args.warmup)
                        result = wrk(server, path, key=key, duration=args.duration)
                        if result.errors:
                            raise SystemExit(f"{server.name} {name}: {result.errors} errors")
                        results.setdefault(f"{server.name} {name}", []).append(result)
        backend = meta["backend"]
        print(f"\n{backend} ({folder}), {args.rounds} rounds of {args.duration:g} s:")
        print("| server | scenario | req/s | vs retrieve | p50 ms | p99 ms | server cores |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        rows = {}
        for label, runs in results.items():
            server, name = label.split(" ")
            own = f"{server} retrieve" if server != "tk-generic" else "tk retrieve"
            retrieve = results[own]
            ratios = [r.rps / base.rps for r, base in zip(runs, retrieve, strict=True)]
            rows[label] = {
                "rps": statistics.median(r.rps for r in runs),
                "ratio": statistics.median(ratios),
                "ratios": ratios,
                "p50_ms": statistics.median(r.p50_ms for r in runs),
                "p99_ms": statistics.median(r.p99_ms for r in runs),
                "server_cores": statistics.median(r.server_cores for r in runs),
            }
            row = rows[label]
            print(
                f"| {server} | {name} | {row['rps']:,.0f} | {row['ratio']:.2f} |"
                f" {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['server_cores']:.2f} |"
            )
        report[backend] = rows
    if args.json:
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
