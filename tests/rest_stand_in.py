"""A stand-in for a ChatKit REST API that fails on cue: ``GET /v1/chatkit/threads`` and
``GET /v1/chatkit/threads/{id}/items`` on a loopback port, in OpenAI's wire format (list
objects paged oldest first with ``after`` and ``limit``, error envelopes).

It serves the objects in ``threads`` and ``items`` (by thread id). ``failures`` holds,
per path, the answers to give before the real one, as ``(status, headers)``: say
``(429, {"retry-after": "1"})``. Every request is recorded with its arrival time and
the status it got.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "sk-stand-in"


class RestStandIn(ThreadingHTTPServer):
    threads: list[dict[str, Any]]
    items: dict[str, list[dict[str, Any]]]
    failures: dict[str, list[tuple[int, dict[str, str]]]]
    requests: list[tuple[float, str, int]]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/v1"

    def statuses(self, path: str) -> list[int]:
        return [status for _, p, status in self.requests if p == path]


class _Handler(BaseHTTPRequestHandler):
    server: RestStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(
        self,
        status: int,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
        self._send(status, {"error": error}, headers)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        status = self._answer(url.path, parse_qs(url.query))
        self.server.requests.append((time.monotonic(), url.path, status))

    def _answer(self, path: str, query: dict[str, list[str]]) -> int:
        failures = self.server.failures.get(path)
        if failures:
            status, headers = failures.pop(0)
            self._error(status, f"stand-in answers {status}", headers=headers)
            return status
        if self.headers.get("authorization") != f"Bearer {API_KEY}":
            self._error(401, "Incorrect API key provided.")
            return 401
        parts = path.strip("/").split("/")
        if parts[:3] != ["v1", "chatkit", "threads"] or len(parts) not in (3, 5):
            self._error(404, f"Invalid URL (GET {path})")
            return 404
        if len(parts) == 3:
            objects = self.server.threads
        elif parts[3] in self.server.items:
            objects = self.server.items[parts[3]]
        else:
            self._error(404, f"No thread found with id '{parts[3]}'.")
            return 404
        start = 0
        if "after" in query:
            ids = [o["id"] for o in objects]
            if query["after"][0] not in ids:
                self._error(400, "Invalid 'after'.", param="after")
                return 400
            start = ids.index(query["after"][0]) + 1
        limit = int(query.get("limit", ["20"])[0])
        page = objects[start : start + limit]
        body = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": start + limit < len(objects),
        }
        self._send(200, body)
        return 200


def start_rest_stand_in(
    threads: list[dict[str, Any]], items: dict[str, list[dict[str, Any]]]
) -> RestStandIn:
    httpd = RestStandIn(("127.0.0.1", 0), _Handler)
    httpd.threads, httpd.items = threads, items
    httpd.failures, httpd.requests = {}, []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def stop_rest_stand_in(httpd: RestStandIn) -> None:
    httpd.shutdown()
    httpd.server_close()
