"""The S3 client choice: aiobotocore vs obstore vs boto3 (in a thread), on loopback.

What the attachment storage does per request: presign an upload (PUT, binding the
content type and length), HEAD an object (the size check before use), DELETE one.
Each is timed against a moto S3 server on a loopback port, the three clients
interleaved in rounds, medians reported; the import time of each library is measured
in fresh interpreters. Usage::

    python3 -m venv /tmp/s3-bench && /tmp/s3-bench/bin/pip install \
        'aiobotocore[boto3]' obstore 'moto[server]'
    /tmp/s3-bench/bin/python bench/s3_clients.py [--rounds 5] [--ops 200]

``--sizes`` also installs each library alone into a fresh virtualenv and prints what
it adds to ``site-packages`` (needs the package index).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

BUCKET = "bench-bucket"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench-secret"}
REGION = "us-east-1"
IMPORTS = {
    "aiobotocore": "import aiobotocore.session",
    "obstore": "import obstore, obstore.store",
    "boto3": "import boto3",
}

Timed = Callable[[str], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto did not start")


def import_ms(statement: str, runs: int = 7) -> float:
    """Median wall time of ``statement`` in a fresh interpreter (ms)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times) * 1000


async def clients(endpoint: str) -> tuple[dict[str, dict[str, Timed]], Callable[[], Any]]:
    """Per library: ``presign``, ``head``, ``delete`` of one key; and a closer."""
    import aiobotocore.session
    import boto3
    import obstore
    from botocore.config import Config
    from obstore.store import S3Store

    config = Config(s3={"addressing_style": "path"}, signature_version="s3v4")
    common = {"endpoint_url": endpoint, "region_name": REGION, "config": config, **CREDENTIALS}
    session = aiobotocore.session.get_session()
    manager = session.create_client("s3", **common)
    aio = await manager.__aenter__()
    sync = boto3.client("s3", **common)
    sync.create_bucket(Bucket=BUCKET)
    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        region=REGION,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    put = {"Bucket": BUCKET, "ContentType": "image/png", "ContentLength": 1024}

    async def aio_presign(key: str) -> None:
        await aio.generate_presigned_url("put_object", Params={**put, "Key": key}, ExpiresIn=600)

    async def aio_head(key: str) -> None:
        await aio.head_object(Bucket=BUCKET, Key=key)

    async def aio_delete(key: str) -> None:
        await aio.delete_object(Bucket=BUCKET, Key=key)

    async def obs_presign(key: str) -> None:
        # obstore signs the method and path only: no content type or length.
        obstore.sign(store, "PUT", key, timedelta(minutes=10))

    async def obs_head(key: str) -> None:
        await obstore.head_async(store, key)

    async def obs_delete(key: str) -> None:
        await obstore.delete_async(store, key)

    async def b3_presign(key: str) -> None:
        sync.generate_presigned_url("put_object", Params={**put, "Key": key}, ExpiresIn=600)

    async def b3_head(key: str) -> None:
        await asyncio.to_thread(sync.head_object, Bucket=BUCKET, Key=key)

    async def b3_delete(key: str) -> None:
        await asyncio.to_thread(sync.delete_object, Bucket=BUCKET, Key=key)

    async def close() -> None:
        await manager.__aexit__(None, None, None)

    table = {
        "aiobotocore": {"presign": aio_presign, "head": aio_head, "delete": aio_delete},
        "obstore": {"presign": obs_presign, "head": obs_head, "delete": obs_delete},
        "boto3": {"presign": b3_presign, "head": b3_head, "delete": b3_delete},
    }
    return table, close


async def measure(endpoint: str, rounds: int, ops: int) -> dict[str, dict[str, float]]:
    """Median per operation over rounds: presign in µs, head/delete in ms (one at a
    time) and head16 (16 concurrent HEADs) in operations per second."""
    import boto3
    from botocore.config import Config

    table, close = await clients(endpoint)
    seeder = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}),
        **CREDENTIALS,
    )
    seeder.put_object(Bucket=BUCKET, Key="head/object", Body=b"x" * 1024)
    results: dict[str, dict[str, list[float]]] = {
        name: {"presign": [], "head": [], "delete": [], "head16": []} for name in table
    }
    try:
        for round_ in range(rounds):
            names = list(table) if round_ % 2 == 0 else list(reversed(table))
            for name in names:
                ops_of = table[name]
                for _ in range(20):  # warm-up: connections, signer caches
                    await ops_of["head"]("head/object")
                start = time.perf_counter()
                for i in range(ops):
                    await ops_of["presign"](f"p/{i}")
                results[name]["presign"].append((time.perf_counter() - start) / ops * 1e6)
                start = time.perf_counter()
                for _ in range(ops):
                    await ops_of["head"]("head/object")
                results[name]["head"].append((time.perf_counter() - start) / ops * 1e3)
                start = time.perf_counter()
                for _ in range(ops // 16):
                    await asyncio.gather(*(ops_of["head"]("head/object") for _ in range(16)))
                results[name]["head16"].append((ops // 16 * 16) / (time.perf_counter() - start))
                keys = [f"d/{name}/{round_}/{i}" for i in range(ops)]
                for key in keys:
                    seeder.put_object(Bucket=BUCKET, Key=key, Body=b"x")
                start = time.perf_counter()
                for key in keys:
                    await ops_of["delete"](key)
                results[name]["delete"].append((time.perf_counter() - start) / ops * 1e3)
    finally:
        await close()
    return {
        name: {op: statistics.median(values) for op, values in per.items()}
        for name, per in results.items()
    }


def install_sizes() -> dict[str, float]:
    """MiB each library (and what it pulls in) adds to an empty virtualenv."""
    sizes: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:

        def site_bytes(venv: Path) -> int:
            [site] = venv.glob("lib/python*/site-packages")
            return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())

        base = Path(tmp) / "empty"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base)], check=True)
        for name in IMPORTS:
            venv = Path(tmp) / name
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
            [site] = venv.glob("lib/python*/site-packages")
            pip = [sys.executable, "-m", "pip", "install", "-q", "--no-warn-conflicts"]
            done = subprocess.run([*pip, "--target", str(site), name], capture_output=True)
            if done.returncode != 0:
                raise RuntimeError(done.stderr.decode())
            sizes[name] = (site_bytes(venv) - site_bytes(base)) / 2**20
            shutil.rmtree(venv)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--sizes", action="store_true")
    args = parser.parse_args()

    imports = {name: import_ms(statement) for name, statement in IMPORTS.items()}
    moto, endpoint = start_moto()
    try:
        figures = asyncio.run(measure(endpoint, args.rounds, args.ops))
    finally:
        moto.terminate()
        moto.wait()
    sizes = install_sizes() if args.sizes else {}
    print(
        f"{'library':<12} {'import ms':>9} {'presign µs':>10} {'HEAD ms':>8} "
        f"{'DELETE ms':>9} {'16 HEADs/s':>10} {'install MiB':>11}"
    )
    for name, per in figures.items():
        size = f"{sizes[name]:.1f}" if name in sizes else "-"
        print(
            f"{name:<12} {imports[name]:>9.0f} {per['presign']:>10.0f} {per['head']:>8.2f} "
            f"{per['delete']:>9.2f} {per['head16']:>10.0f} {size:>11}"
        )


if __name__ == "__main__":
    main()
