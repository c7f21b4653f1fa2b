"""The chat UI's files as ``threadkit serve`` answers them: headers, types, validators,
compression, refused paths and methods, and ``--no-ui``."""

from __future__ import annotations

import gzip
import http.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.chatkit_helpers import error_of
from tests.conftest import Server, run, start_server, stop_server
from threadkit.web import CONTENT_SECURITY_POLICY, UIApp

WEB = Path(__file__).resolve().parent.parent / "threadkit" / "web"
PAGE = WEB / "page"
CONSOLE = WEB / "console"

STRICT = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def assert_strict(response: httpx.Response) -> None:
    for name, value in STRICT.items():
        assert response.headers.get(name) == value, (name, response.headers)


def raw_get(server: Server, path: str) -> tuple[int, bytes]:
    """A GET whose path goes out exactly as written (httpx would resolve ``..``)."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get(server: Server, path: str, **headers: str) -> httpx.Response:
    # httpx asks for gzip by default; "identity" unless a test asks otherwise
    headers.setdefault("accept-encoding", "identity")
    return httpx.get(server.url + path, headers=headers, timeout=10)


def test_the_page_is_served_at_the_root_with_strict_headers(server: Server) -> None:
    r = get(server, "/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.content == (PAGE / "index.html").read_bytes()
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    assert "x-request-id" in r.headers
    assert_strict(r)
    assert get(server, "/ui/page/index.html").content == r.content


def test_the_console_is_served_with_the_same_headers(server: Server) -> None:
    index = (CONSOLE / "index.html").read_bytes()
    for path in ("/console", "/console/", "/console/index.html"):
        r = get(server, path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.content == index
        assert r.headers["cache-control"] == "no-cache"
        assert_strict(r)
    for name, content_type in (
        ("console.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
        ("items.js", "text/javascript; charset=utf-8"),
    ):
        r = get(server, f"/console/{name}")
        assert (r.status_code, r.headers["content-type"]) == (200, content_type), name
        assert r.content == (CONSOLE / name).read_bytes()
        assert_strict(r)
        etag = r.headers["etag"]
        assert get(server, f"/console/{name}", **{"if-none-match": etag}).status_code == 304
        zipped = get(server, f"/console/{name}", **{"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and zipped.content == r.content
    assert get(server, "/console/nothing.js").status_code == 404
    assert get(server, "/consoles").status_code == 404
    # no inline script or style for the policy to refuse, nothing from another origin
    html = index.decode()
    assert "<style" not in html and "style=" not in html and "<script>" not in html
    for name in ("console.js", "items.js", "rest.js"):
        source = (CONSOLE / name).read_text()
        assert "localStorage" not in source and "sessionStorage" not in source
        assert "document.cookie" not in source and "http://" not in source
        assert "https://" not in source


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/ui/page/page.js", "text/javascript; charset=utf-8"),
        ("/ui/page/page.css", "text/css; charset=utf-8"),
        ("/ui/page/favicon.svg", "image/svg+xml"),
        ("/ui/page/index.html", "text/html; charset=utf-8"),
    ],
)
def test_page_files_have_their_types(server: Server, path: str, content_type: str) -> None:
    r = get(server, path)
    assert r.status_code == 200
    assert r.headers["content-type"] == content_type
    assert r.content == (PAGE / path.removeprefix("/ui/page/")).read_bytes()
    assert int(r.headers["content-length"]) == len(r.content)
    assert_strict(r)


def test_an_unchanged_file_answers_304(server: Server) -> None:
    first = get(server, "/ui/page/page.css")
    etag = first.headers["etag"]
    again = get(server, "/ui/page/page.css", **{"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert_strict(again)
    listed = get(server, "/ui/page/page.css", **{"if-none-match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    stale = get(server, "/ui/page/page.css", **{"if-none-match": '"stale"'})
    assert stale.status_code == 200
    assert stale.content == first.content
    # another file's validator does not match
    other = get(server, "/ui/page/page.js", **{"if-none-match": etag})
    assert other.status_code == 200


def test_gzip_when_the_client_accepts_it(server: Server) -> None:
    plain = get(server, "/")
    with httpx.Client(timeout=10) as client:
        request = client.build_request("GET", server.url + "/", headers={"accept-encoding": "gzip"})
        zipped = client.send(request, stream=True)
        raw = b"".join(zipped.iter_raw())
        zipped.close()
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert int(zipped.headers["content-length"]) == len(raw) < len(plain.content)
    assert gzip.decompress(raw) == plain.content
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert_strict(zipped)
    # either validator revalidates either representation
    for etag in (plain.headers["etag"], zipped.headers["etag"]):
        assert get(server, "/", **{"if-none-match": etag}).status_code == 304
    refused = get(server, "/", **{"accept-encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers
    assert refused.content == plain.content


def test_head_answers_the_headers_without_the_body(server: Server) -> None:
    full = get(server, "/ui/page/page.js")
    head = httpx.head(server.url + "/ui/page/page.js", headers={"accept-encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(full.content))
    assert head.headers["etag"] == full.headers["etag"]
    assert head.headers["content-type"] == full.headers["content-type"]
    assert_strict(head)


@pytest.mark.parametrize(
    "path",
    [
        "/ui/../pyproject.toml",
        "/ui/%2e%2e/pyproject.toml",
        "/ui/%2E%2E/%2E%2E/pyproject.toml",
        "/ui/page/../../__init__.py",
        "/ui/page/%2e%2e/%2e%2e/__init__.py",
        "/ui/..%2f..%2fpyproject.toml",
        "/ui/page/..%5c..%5c__init__.py",
        "/ui//etc/passwd",
        "/ui/.keep",
        "/ui/page/.hidden",
        "/ui/page",
        "/ui/",
        "/ui/page/",
    ],
)
def test_traversal_and_dotfiles_are_refused(server: Server, path: str) -> None:
    status, body = raw_get(server, path)
    assert status == 404, body
    assert b"[build-system]" not in body and b"import" not in body
    answer = httpx.Response(404, headers={"content-type": "application/json"}, content=body)
    error = error_of(answer)
    assert error["message"].startswith("Invalid URL (GET ")


def test_a_missing_file_is_a_404_envelope(server: Server) -> None:
    r = get(server, "/ui/no-such-file.js")
    assert r.status_code == 404
    error = error_of(r)
    assert error == {
        "message": "Invalid URL (GET /ui/no-such-file.js)",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert_strict(r)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_a_file_are_405(server: Server, method: str) -> None:
    r = httpx.request(method, server.url + "/ui/page/page.js", content=b"x")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    assert error_of(r)["message"].startswith(f"Method not allowed ({method} /ui/page/page.js)")
    assert_strict(r)
    assert httpx.post(server.url + "/").status_code == 405
    # no file there: the usual 404
    assert httpx.post(server.url + "/ui/x").status_code == 404


def test_the_api_keeps_its_routes_and_headers(server: Server, project: str) -> None:
    health = httpx.get(server.url + "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert "content-security-policy" not in health.headers
    with server.http(project) as http:
        listed = http.get("/v1/chatkit/threads")
    assert listed.status_code == 200 and listed.json()["object"] == "list"
    missing = httpx.get(server.url + "/v1/nothing")
    assert missing.status_code == 404
    assert "content-security-policy" not in missing.headers


@pytest.fixture
def ui_off_servers(tmp_path: Path) -> Iterator[list[Server]]:
    db = f"sqlite:///{tmp_path / 'off.db'}"
    config = tmp_path / "threadkit.toml"
    config.write_text("[server]\nui = false\n")
    servers = [
        start_server(db, "sqlite", tmp_path, "--no-ui"),
        start_server(db, "sqlite", tmp_path, env={"THREADKIT_UI": "0"}),
        start_server(db, "sqlite", tmp_path, "--config", str(config)),
    ]
    yield servers
    for srv in servers:
        stop_server(srv)


def test_no_ui_turns_the_page_and_the_files_off(ui_off_servers: list[Server]) -> None:
    for srv in ui_off_servers:
        for path in ("/", "/ui/page/index.html", "/ui/page/page.js", "/console", "/console/"):
            r = get(srv, path)
            assert r.status_code == 404, (srv.url, path)
            assert error_of(r)["message"] == f"Invalid URL (GET {path})"
            assert "content-security-policy" not in r.headers
        assert httpx.get(srv.url + "/healthz").status_code == 200


# --- the app on folders of the test's own: prefixes, types, dotfiles ------------------------


def test_each_prefix_serves_its_folder(tmp_path: Path) -> None:
    ui, vendor, page = tmp_path / "ui", tmp_path / "vendor", tmp_path / "page"
    console = tmp_path / "console"
    files = {
        ui / "threadkit-chat.js": b"export const a = 1;\n",
        ui / "chat" / "items.js": b"export const b = 2;\n",
        ui / "chat.css": b"p { color: red }\n",
        ui / "data.json": b"{}",
        ui / "chat.js.map": b"{}",
        ui / ".secret": b"no",
        ui / ".git" / "config": b"no",
        vendor / "marked" / "marked.esm.js": b"export {};\n",
        vendor / "marked" / "LICENSE": b"MIT\n",
        page / "index.html": b"<!doctype html>\n",
        console / "index.html": b"<!doctype html><title>console</title>\n",
    }
    for path, body in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    folders = (
        ("/ui/vendor/", vendor),
        ("/ui/page/", page),
        ("/console/", console),
        ("/ui/", ui),
    )

    async def fetch_all(app: UIApp, paths: list[str]) -> dict[str, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ui") as client:
            return {p: await client.get(p, headers={"accept-encoding": "identity"}) for p in paths}

    expected = {
        "/ui/threadkit-chat.js": (b"export const a = 1;\n", "text/javascript; charset=utf-8"),
        "/ui/chat/items.js": (b"export const b = 2;\n", "text/javascript; charset=utf-8"),
        "/ui/chat.css": (b"p { color: red }\n", "text/css; charset=utf-8"),
        "/ui/data.json": (b"{}", "application/json"),
        "/ui/chat.js.map": (b"{}", "application/json"),
        "/ui/vendor/marked/marked.esm.js": (b"export {};\n", "text/javascript; charset=utf-8"),
        "/ui/vendor/marked/LICENSE": (b"MIT\n", "text/plain; charset=utf-8"),
        "/": (b"<!doctype html>\n", "text/html; charset=utf-8"),
        "/console": (b"<!doctype html><title>console</title>\n", "text/html; charset=utf-8"),
        "/console/": (b"<!doctype html><title>console</title>\n", "text/html; charset=utf-8"),
    }
    refused = ["/ui/.secret", "/ui/.git/config", "/ui/page/x.html"]
    answers = run(fetch_all(UIApp(folders=folders), [*expected, *refused]))
    for path, (body, content_type) in expected.items():
        assert answers[path].status_code == 200, path
        assert answers[path].content == body, path
        assert answers[path].headers["content-type"] == content_type, path
    for path in refused:
        assert answers[path].status_code == 404, path

    without_page = run(
        fetch_all(UIApp(enabled_page=False, folders=folders), ["/", "/console", "/ui/chat.css"])
    )
    assert without_page["/"].status_code == 404
    assert without_page["/console"].status_code == 404
    assert without_page["/ui/chat.css"].status_code == 200
