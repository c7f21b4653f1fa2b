"""Runs the ASGI app (``threadkit.app:create_app``, one per worker) on an HTTP server.

granian is the default: its HTTP handling is written in Rust, so less of each
request's time is spent in Python. Retrieving a thread on it reached 1.18 (SQLite)
and 1.22 (PostgreSQL) of the requests/s of the benchmarks' reference app on uvicorn,
against 0.93 and 0.99 for threadkit on uvicorn in the same runs
(``docs/performance.md``). uvicorn stays available
(``--server uvicorn``). Both run ``workers`` processes, each building its own app from
the environment, and ending with this process (``threadkit.parent_watch``).
"""

from __future__ import annotations

import gc
import math
import signal
import sys
from typing import Any, Literal

Engine = Literal["granian", "uvicorn"]
TARGET = "threadkit.server:worker_app"


def worker_app() -> Any:
    """The app of one worker process, built from the environment.

    Everything loaded at start-up (modules, pydantic schemas: several hundred thousand
    objects) is frozen out of the cycle collector. Otherwise each full collection
    scans all of it, stalling every request in flight: on PostgreSQL that set the p99
    of a retrieve at 120 ms for a 10 ms p50; frozen, 31 ms (docs/performance.md).
    """
    from threadkit import logs, parent_watch
    from threadkit.app import create_app
    from threadkit.config import Settings

    with parent_watch.ending_with_parent():
        settings = Settings.from_env()
        logs.configure(settings.log_format, settings.log_level)
        app = create_app(settings)
    gc.freeze()
    return app


def run(
    engine: Engine,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    log_format: str = "text",
    shutdown_timeout: float = 30.0,
) -> None:
    """Serve until SIGTERM/SIGINT, then stop gracefully (see ``threadkit.shutdown``)."""
    from threadkit.logs import dict_config
    from threadkit.parent_watch import supervise_workers
    from threadkit.shutdown import SAVE_SECONDS

    # granian runs even a single worker in a process of its own; uvicorn serves one
    # worker in this process.
    supervise_workers(engine == "granian" or workers > 1)
    log_config = dict_config(log_format, log_level)
    if engine == "uvicorn":
        import uvicorn

        # uvicorn re-raises the signal it stopped on once it has restored the handlers
        # it found: found these, the process exits 0 instead of dying of the signal.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _exit_quietly)

        uvicorn.run(
            TARGET,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=log_config,
            access_log=False,
            timeout_graceful_shutdown=math.ceil(shutdown_timeout + SAVE_SECONDS),
        )
        return
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    Granian(
        TARGET,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_level=LogLevels(log_level.lower()),
        log_dictconfig=log_config,
        log_access=False,
        workers_kill_timeout=math.ceil(shutdown_timeout + SAVE_SECONDS),
    ).serve()


def _exit_quietly(signum: int, frame: Any) -> None:
    sys.exit(0)
