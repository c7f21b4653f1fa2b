"""A real S3 wire-protocol server for the tests: moto in server mode on a loopback
port, a client to look into its bucket, and a check of presigned requests.

moto accepts any signature, so ``signature_valid`` does what S3 does with a
presigned URL: it recomputes the SigV4 signature over the request as it is sent
(method, path, query, the signed headers) and compares.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from tests.conftest import IN_CI, PROBE, free_port

BUCKET = "threadkit-tests"
ACCESS_KEY = "threadkit-test-key"
SECRET_KEY = "threadkit-test-secret"
REGION = "us-east-1"


def moto_problem() -> str | None:
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError as exc:
        return f"moto[server] is not installed: {exc}"
    return None


@dataclass
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        """What a threadkit process needs to use the bucket, and nothing looked up
        beyond this machine (no profiles, no instance metadata)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        """A boto3 client of the server, to look into the bucket."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}),
        )

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return [o["Key"] for o in listed.get("Contents", [])]

    def objects_of(self, attachment_id: str) -> list[str]:
        return [k for k in self.keys() if k.endswith(f"/{attachment_id}")]

    def body(self, key: str) -> bytes:
        return bytes(self.client().get_object(Bucket=BUCKET, Key=key)["Body"].read())


def start_s3(log: Path) -> S3Server:
    problem = moto_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true and {problem}", pytrace=False)
        print(f"\n!!! SKIPPING S3 tests: {problem} !!!\n", file=sys.stderr)
        pytest.skip(f"S3 tests skipped: {problem}")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = S3Server(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto exited:\n{log.read_text()}")
        try:
            PROBE.get(f"{server.endpoint}/moto-api/")
            server.client().create_bucket(Bucket=BUCKET)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"moto did not start:\n{log.read_text()}")


def stop_s3(server: S3Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def signature_valid(request: httpx.Request, secret_key: str = SECRET_KEY) -> bool:
    """Whether S3 would accept this presigned request: a SigV4 query signature over
    the request as sent, not expired."""
    params = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
    signature = params.pop("X-Amz-Signature", "")
    signed = params["X-Amz-SignedHeaders"].split(";")
    stamp = params["X-Amz-Date"]
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if datetime.now(UTC) > signed_at + timedelta(seconds=int(params["X-Amz-Expires"])):
        return False
    if any(name not in request.headers for name in signed):
        return False
    canonical = "\n".join(
        [
            request.method,
            request.url.raw_path.split(b"?", 1)[0].decode(),
            "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items())),
            "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed),
            ";".join(signed),
            "UNSIGNED-PAYLOAD",
        ]
    )
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for part in scope.split("/"):
        key = _hmac(key, part)
    return hmac.compare_digest(
        hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature
    )


def upload_request(descriptor: dict[str, Any], data: bytes, **headers: str) -> httpx.Request:
    """The request a browser makes from an upload descriptor: its method, URL and
    headers, the bytes as the body (``headers`` replace the descriptor's)."""
    return httpx.Request(
        descriptor["method"],
        descriptor["url"],
        headers={**descriptor.get("headers", {}), **headers},
        content=data,
    )
