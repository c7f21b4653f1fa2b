"""JSON responses encoded with orjson (pre-serialized fragments pass through as is)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        if headers is not None or self.status_code in (204, 304) or self.status_code < 200:
            super().init_headers(headers)
            return
        # The common case, without the general method's checks (every call on the hot path).
        self.raw_headers = [
            (b"content-length", str(len(self.body)).encode()),
            (b"content-type", b"application/json"),
        ]


class JSONBytesResponse(JSONResponse):
    """A body that is already JSON."""

    def render(self, content: Any) -> bytes:
        return bytes(content)
