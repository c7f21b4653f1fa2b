"""The chat UI's files, served by a small ASGI app with strict headers.

``ui_app()`` answers ``/`` (the page), ``/ui/<path>`` (the ``<threadkit-chat>``
component), ``/ui/vendor/<path>`` (vendored libraries), ``/ui/page/<path>`` (the
page's other files) and ``/console`` with ``/console/<path>`` (the operator console).
Every file is read, hashed and gzipped once, when the app is made: a request is a
dictionary lookup, so no path a client sends ever reaches the file system (no traversal
is possible), and dotfiles are never listed.

It is plain ASGI so that any app can mount it: threadkit's own router does, and so can
an app built on ``openai-chatkit`` (docs/ui.md), with
``Mount("/ui", app=ui_app(enabled_page=False))``: the component without threadkit's page
(which needs threadkit's ``/ui/api/…`` routes) nor the console (threadkit's REST
extensions).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import orjson
from starlette.types import Receive, Scope, Send

HERE = Path(__file__).resolve().parent
#: URL prefix -> folder, the longest prefix first
FOLDERS: tuple[tuple[str, Path], ...] = (
    ("/ui/vendor/", HERE / "vendor"),
    ("/ui/page/", HERE / "page"),
    ("/console/", HERE / "console"),
    ("/ui/", HERE / "ui"),
)
#: threadkit's own pages: left out with ``enabled_page=False`` (they need its API)
PAGE_PREFIXES = frozenset({"/ui/page/", "/console/"})
#: URL path -> the file it also answers with
INDEXES = {
    "/": "/ui/page/index.html",
    "/console": "/console/index.html",
    "/console/": "/console/index.html",
}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
#: on every response of the UI, errors included
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".woff2": "font/woff2",
}
#: files without a suffix (LICENSE beside a vendored library)
PLAIN_TEXT = "text/plain; charset=utf-8"
#: already compressed: gzip would only cost time
NOT_COMPRESSED = frozenset({".png", ".woff2"})


@dataclass(frozen=True, slots=True)
class Asset:
    """One file as served: its bytes, gzipped bytes (when smaller) and validators."""

    body: bytes
    gzipped: bytes | None
    content_type: bytes
    etag: bytes

    @property
    def gzip_etag(self) -> bytes:
        # Another representation, so another strong validator.
        return self.etag[:-1] + b'-gz"'


def load_asset(path: Path) -> Asset:
    body = path.read_bytes()
    suffix = path.suffix.lower()
    content_type = CONTENT_TYPES.get(suffix, PLAIN_TEXT if not suffix else "")
    if not content_type:
        content_type = "application/octet-stream"
    gzipped = None
    if suffix not in NOT_COMPRESSED:
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        if len(packed) < len(body):
            gzipped = packed
    etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
    return Asset(body, gzipped, content_type.encode(), etag)


def _visible(relative: Path) -> bool:
    return not any(part.startswith(".") for part in relative.parts)


def collect_assets(
    enabled_page: bool = True, folders: tuple[tuple[str, Path], ...] = FOLDERS
) -> dict[str, Asset]:
    """URL path -> asset, for every file (dotfiles and dot-folders left out)."""
    assets: dict[str, Asset] = {}
    for prefix, folder in reversed(folders):  # the longest prefix wins
        if prefix in PAGE_PREFIXES and not enabled_page:
            continue
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and _visible(relative):
                assets[prefix + relative.as_posix()] = load_asset(path)
    for path, index in INDEXES.items():
        if index in assets:
            assets[path] = assets[index]
    return assets


def accepts_gzip(header: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``q=0`` refuses it)."""
    for entry in header.decode("latin-1").lower().split(","):
        coding, _, params = entry.strip().partition(";")
        if coding.strip() not in ("gzip", "*"):
            continue
        q = params.strip()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def _matches(header: bytes, asset: Asset) -> bool:
    """``If-None-Match`` against either representation (both validate the same bytes)."""
    if header.strip() == b"*":
        return True
    tags = {t.strip().removeprefix(b"W/") for t in header.split(b",")}
    return asset.etag in tags or asset.gzip_etag in tags


def _full_path(scope: Scope) -> str:
    """The request's whole path, however the app is mounted: Starlette keeps the mount
    point in ``path``, other frameworks strip it into ``root_path`` only."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and not path.startswith(root + "/") and path != root:
        return root.rstrip("/") + path
    return path


async def _error(
    send: Send, status: int, message: str, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    body = orjson.dumps({"error": error})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class UIApp:
    """The ASGI app of the UI's files (see the module's docstring)."""

    def __init__(
        self, enabled_page: bool = True, folders: tuple[tuple[str, Path], ...] = FOLDERS
    ) -> None:
        self.assets = collect_assets(enabled_page, folders)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path = _full_path(scope)
        asset = self.assets.get(path)
        if method not in ("GET", "HEAD"):
            if asset is None:
                await _error(send, 404, f"Invalid URL ({method} {scope['path']})")
                return
            await _error(
                send,
                405,
                f"Method not allowed ({method} {scope['path']}): the UI's files answer "
                "GET and HEAD.",
                ((b"allow", b"GET, HEAD"),),
            )
            return
        if asset is None:
            await _error(send, 404, f"Invalid URL ({method} {scope['path']})")
            return
        await self.serve(asset, scope, send, head=method == "HEAD")

    async def serve(self, asset: Asset, scope: Scope, send: Send, head: bool) -> None:
        if_none_match = accept_encoding = b""
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value
            elif name == b"accept-encoding":
                accept_encoding = value
        zipped = asset.gzipped is not None and accepts_gzip(accept_encoding)
        body = asset.gzipped if zipped and asset.gzipped is not None else asset.body
        etag = asset.gzip_etag if zipped else asset.etag
        headers = [
            (b"cache-control", b"no-cache"),
            (b"etag", etag),
            *SECURITY_HEADERS,
        ]
        if asset.gzipped is not None:
            headers.append((b"vary", b"Accept-Encoding"))
        if if_none_match and _matches(if_none_match, asset):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers.append((b"content-type", asset.content_type))
        headers.append((b"content-length", str(len(body)).encode()))
        if zipped:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})


def ui_app(enabled_page: bool = True) -> UIApp:
    """The UI's files as an ASGI app; ``enabled_page=False`` serves only the component
    (``/ui/…`` and ``/ui/vendor/…``), not threadkit's page at ``/`` nor the console."""
    return UIApp(enabled_page)


__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "UIApp", "ui_app"]
