"""The server's logs on stderr: text or JSON lines, and one access line per request.

Every record written while a request is handled carries its request id (a context
variable the request's tasks inherit), so a workflow's failure inside a stream names
the request as well as the thread.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

#: the id of the request being handled (the ``x-request-id`` header), if any
request_id: ContextVar[str | None] = ContextVar("threadkit_request_id", default=None)


def _now(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, the record's
    ``extra`` fields and, for errors, the traceback."""

    _standard = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _now(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
        for name, value in record.__dict__.items():
            if name not in self._standard:
                line[name] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = request_id.get()
        return f"{text} (request {rid})" if rid is not None and rid not in text else text


#: the HTTP servers' own loggers, formatted like ours
#: (their access lines stay off: threadkit writes its own)
SERVER_LOGGERS = ("_granian", "uvicorn", "uvicorn.error")


def dict_config(log_format: str, level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` sending threadkit's, chatkit's and the HTTP
    server's loggers to stderr in ``log_format`` (granian and uvicorn take it too)."""
    formatter = (
        "threadkit.logs.JsonFormatter" if log_format == "json" else ("threadkit.logs.TextFormatter")
    )
    handler = {"handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"threadkit": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "threadkit",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "threadkit": {**handler, "level": level.upper()},
            # chatkit logs every request it receives at INFO: only its warnings and up.
            "chatkit": {**handler, "level": "WARNING"},
            **{name: {**handler, "level": level.upper()} for name in SERVER_LOGGERS},
        },
    }


def configure(log_format: str, level: str = "info") -> None:
    logging.config.dictConfig(dict_config(log_format, level))


class AccessLog:
    """Writes one line per request, straight to the stream: going through ``logging``
    (a record, a lock, the formatter) would cost the hot path several times more.

    Lines are gathered and written together at most ``DELAY`` seconds after the
    first of them (or once ``BATCH`` are waiting): a write to stderr per request, a
    system call each, cost a retrieve a tenth of its requests/s. ``flush`` writes
    what is waiting at once.
    """

    #: seconds a line may wait for others before it is written
    DELAY = 0.05
    #: lines written at once without waiting longer
    BATCH = 256

    def __init__(self, log_format: str, stream: TextIO | None = None) -> None:
        self.json = log_format == "json"
        self.stream = stream or sys.stderr
        self._lines: list[str] = []
        self._second = -1
        self._stamp = ""

    def write(
        self,
        request_id: str,
        method: str,
        route: str,
        status: int,
        seconds: float,
        project: str | None,
    ) -> None:
        now = self._now()
        if self.json:
            line = orjson.dumps(
                {
                    "time": now,
                    "level": "info",
                    "logger": "threadkit.access",
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "project": project,
                }
            ).decode()
        else:
            line = (
                f"{now} access {method} {route} {status} {seconds * 1000:.1f}ms "
                f"request={request_id} project={project or '-'}"
            )
        lines = self._lines
        lines.append(line)
        if len(lines) == 1:
            try:
                asyncio.get_running_loop().call_later(self.DELAY, self.flush)
            except RuntimeError:  # no loop running: nothing to gather with
                self.flush()
        elif len(lines) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        """Writes the lines gathered so far."""
        if self._lines:
            text = "\n".join(self._lines) + "\n"
            self._lines = []
            self.stream.write(text)

    def _now(self) -> str:
        """The time as ``_now`` writes it, formatted once a second, not per line."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).isoformat()[: -len("+00:00")]
        return f"{self._stamp}.{int((now - second) * 1000):03d}+00:00"
