"""Workers end when their ``threadkit serve`` process is killed with SIGKILL (which it
cannot pass on): none is left serving with pid 1 as parent, holding the port and the
database. Once serving, and while the workers are still starting.

The server runs in a session of its own, so that its workers can still be found once
they have lost their parent (every process it starts stays in that session)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROBE, free_port
from tests.processes import children, in_session

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"
)

#: a bound for the workers' graceful shutdown, not a measure
WAIT_SECONDS = 15


def _serve(tmp_path: Path, engine: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    """``threadkit serve --workers 2`` in a new session: the process, its URL, its log."""
    port = free_port()
    log = tmp_path / "server.log"
    db = f"sqlite:///{tmp_path / 'threadkit.db'}"
    command = [sys.executable, "-m", "threadkit", "serve", "--port", str(port), "--db", db]
    process = subprocess.Popen(
        [*command, "--server", engine, "--workers", "2"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}", log


def _wait_for(condition: Callable[[], object], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"waited {seconds} s for {what}")


def _answers(url: str) -> bool:
    try:
        return PROBE.get(f"{url}/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def _kill_parent(process: subprocess.Popen[bytes]) -> list[int]:
    """SIGKILL the parent; the processes of its session still running after
    ``WAIT_SECONDS`` (killed then, so that none outlives the test)."""
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and in_session(process.pid):
        time.sleep(0.1)
    left = in_session(process.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


@pytest.mark.parametrize("engine", ["granian", "uvicorn"])
def test_workers_end_with_a_killed_serving_parent(tmp_path: Path, engine: str) -> None:
    process, url, log = _serve(tmp_path, engine)
    try:
        _wait_for(lambda: _answers(url), "the server to answer /healthz")
        _wait_for(lambda: len(children(process.pid)) >= 2, "two worker processes")
    finally:
        left = _kill_parent(process)
    assert left == [], log.read_text()
    assert not _answers(url)


@pytest.mark.parametrize("engine", ["granian", "uvicorn"])
def test_workers_end_with_a_parent_killed_while_they_start(tmp_path: Path, engine: str) -> None:
    process, _, log = _serve(tmp_path, engine)
    try:
        _wait_for(lambda: children(process.pid), "a worker process")
    finally:
        left = _kill_parent(process)
    assert left == [], log.read_text()
