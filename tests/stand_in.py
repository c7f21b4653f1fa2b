"""A stand-in for a remote model server: ``POST /v1/chat/completions`` with
``stream: true``, speaking OpenAI's wire format (``chat.completion.chunk`` objects as
server-sent events, then ``data: [DONE]``) on a loopback port.

It answers ``You said: <last user message>`` in three chunks, or fails with HTTP 500
when that message contains ``FAIL``. It records every request and its headers.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StandIn(ThreadingHTTPServer):
    requests: list[dict[str, Any]]
    headers_seen: list[dict[str, str]]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _fail(self) -> None:
        payload = json.dumps({"error": {"message": "boom", "type": "server_error"}}).encode()
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.requests.append(body)
        self.server.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        last = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        if isinstance(last, list):  # content parts, as the Agents SDK sends them
            last = "".join(part.get("text", "") for part in last)
        if self.path != "/v1/chat/completions" or "FAIL" in last:
            self._fail()
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        pieces: list[str | None] = ["You ", "said: ", last, None]
        for i, piece in enumerate(pieces):
            if piece is None:
                delta: dict[str, Any] = {}
            elif i == 0:
                delta = {"role": "assistant", "content": piece}
            else:
                delta = {"content": piece}
            chunk = {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": None,
                        "finish_reason": "stop" if piece is None else None,
                    }
                ],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


def start_stand_in() -> StandIn:
    httpd = StandIn(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    httpd.headers_seen = []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def stop_stand_in(httpd: StandIn) -> None:
    httpd.shutdown()
    httpd.server_close()
