"""The server's logs on stderr: text or JSON lines, and one access line per request.

Every record written while a request is handled carries its request id (a context
variable the request's tasks inherit), so a workflow's failure inside a stream names
the request as well as the thread.
"""

from __future__ import annotations

import logging
import logging.config
import sys
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
    """One line per request on a stream, written without ``logging`` (a record, a lock
    and the formatter per line would cost the hot path several times more).

    ``write_many`` formats many requests' lines and writes them in one write: a write
    to stderr per request, a system call each, cost a retrieve a tenth of its
    requests/s. ``threadkit.api.finished`` gathers the requests.
    """

    def __init__(self, log_format: str, stream: TextIO | None = None) -> None:
        self.json = log_format == "json"
        self.stream = stream or sys.stderr
        self._millisecond = self._second = -1
        self._date = self._stamp = ""
        #: the constant parts of the JSON lines of each (method, route, status, project)
        self._parts: dict[tuple[str, str, int, str | None], tuple[str, str]] = {}

    def write_many(self, requests: list[tuple[Any, ...]], clock_offset: float) -> None:
        """Writes the lines of ``requests`` (``threadkit.api.finished.Finished``);
        ``clock_offset`` turns their ``perf_counter`` times into wall-clock times."""
        line = self._json_line if self.json else self._text_line
        self.stream.write("".join([line(figures, clock_offset) for figures in requests]))

    def _json_line(self, figures: tuple[Any, ...], clock_offset: float) -> str:
        ended, seconds, request_id, method, route, status, project = figures
        key = (method, route, status, project)
        parts = self._parts.get(key)
        if parts is None:
            if len(self._parts) > 4096:
                self._parts.clear()
            parts = self._parts[key] = (
                f'","method":{_quote(method)},"route":{_quote(route)},"status":{status},'
                '"duration_ms":',
                f',"project":{_quote(project)}}}\n',
            )
        return (
            f'{{"time":"{self._time(ended + clock_offset)}","level":"info",'
            '"logger":"threadkit.access",'
            f'"request_id":"{request_id}{parts[0]}{seconds * 1000:.3f}{parts[1]}'
        )

    def _text_line(self, figures: tuple[Any, ...], clock_offset: float) -> str:
        ended, seconds, request_id, method, route, status, project = figures
        return (
            f"{self._time(ended + clock_offset)} access {method} {route} {status} "
            f"{seconds * 1000:.1f}ms "
            f"request={request_id} project={project or '-'}\n"
        )

    def _time(self, now: float) -> str:
        """``now`` as ``_now`` writes it, formatted once a millisecond (many lines share
        one under load) and the date once a second."""
        millisecond = int(now * 1000)
        if millisecond != self._millisecond:
            self._millisecond = millisecond
            second, fraction = divmod(millisecond, 1000)
            if second != self._second:
                self._second = second
                self._date = datetime.fromtimestamp(second, UTC).isoformat()[: -len("+00:00")]
            self._stamp = f"{self._date}.{fraction:03d}+00:00"
        return self._stamp


def _quote(text: str | None) -> str:
    """``text`` as a JSON value."""
    return orjson.dumps(text).decode()
