"""The chat UI's figures (docs/performance.md): what its files weigh, how soon a
streamed delta is on screen, and how a 2,000-item thread opens.

* size: every file served under ``/ui/`` and ``/console/`` (component, widgets, vendored
  libraries, the page and the console), gzipped as the server sends them; the target is
  150 KB in all.
* paint: ``<threadkit-chat>`` in Debian's chromium (headless, Playwright) receives
  300 deltas 13 ms apart (``bench/ui_workflows.py``). For each delta: the time from
  its bytes arriving in the page (a tee of the response stream) to the DOM holding
  its text (a MutationObserver, which runs right after the animation-frame callback
  that rendered it, before that frame is painted), against the frame interval.
* open: a thread of 2,000 assistant messages (imported) opened with
  ``initialThread``: time to the newest page on screen, items rendered and pages
  fetched; then one scroll to the top: time until the older page is in.

    .venv/bin/python bench/ui.py            # prints a markdown table
    .venv/bin/python bench/ui.py --json out.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from threadkit.web import CONTENT_SECURITY_POLICY, INDEXES, collect_assets  # noqa: E402

CHROMIUM = os.environ.get("THREADKIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PROJECT = "bench-ui"
USER = "bench"
TARGET_BYTES = 150 * 1024
ITEMS = 2000

PAGE_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title>
<link rel="stylesheet" href="bench.css"><script type="module" src="/ui/threadkit-chat.js"></script>
</head><body><threadkit-chat></threadkit-chat></body></html>"""
PAGE_CSS = "html, body { margin: 0; height: 100%; } threadkit-chat { height: 100%; }"

# Arrival time of each token (the page's tee of every event stream) and the frames.
INIT = r"""
window.__arrived = {}; window.__frames = [];
(function loop() { window.__frames.push(performance.now()); requestAnimationFrame(loop); })();
const fetch0 = window.fetch.bind(window);
window.fetch = async (...args) => {
  const response = await fetch0(...args);
  if (!(response.headers.get('content-type') || '').includes('event-stream')) return response;
  const [mine, theirs] = response.body.tee();
  (async () => {
    const reader = mine.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const t = performance.now();
      for (const m of value.matchAll(/"delta":"tok(\d+)/g)) window.__arrived[m[1]] ??= t;
    }
  })();
  return new Response(theirs, { status: response.status, headers: response.headers });
};
"""

# When each token's text first appears in the answer.
WATCH = r"""() => {
  window.__shown = {};
  const root = document.querySelector('threadkit-chat').shadowRoot;
  let top = 0;
  new MutationObserver(() => {
    const t = performance.now();
    const answer = root.querySelector('[data-item-type="assistant_message"]');
    if (!answer) return;
    let max = 0;
    for (const m of answer.textContent.matchAll(/tok(\d+)/g)) max = Math.max(max, +m[1]);
    for (let n = top + 1; n <= max; n += 1) window.__shown[n] = t;
    top = Math.max(top, max);
  }).observe(root, { subtree: true, childList: true, characterData: true });
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sizes() -> dict[str, Any]:
    """Gzipped bytes of each served file (the server's own precomputed gzip)."""
    files = {
        path: len(asset.gzipped or asset.body)
        for path, asset in collect_assets().items()
        if path not in INDEXES  # the same files again
    }
    groups: dict[str, int] = {}
    for path, size in files.items():
        if path.startswith("/ui/vendor/"):
            group = "vendored libraries"
        elif path.startswith("/ui/page/"):
            group = "the page"
        elif path.startswith("/console"):
            group = "the console"
        elif path.startswith("/ui/widgets"):
            group = "widgets"
        else:
            group = "the chat component"
        groups[group] = groups.get(group, 0) + size
    return {"files": files, "groups": groups, "total": sum(files.values())}


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    db = f"sqlite:///{folder / 'ui.db'}"
    config = folder / "threadkit.toml"
    config.write_text(
        '[workflows.ticker]\nkind = "python"\ntarget = "ui_workflows:ticker"\n'
        # the repository too: the workflow shares the tests' message helpers
        f"python_path = [{json.dumps(str(ROOT / 'bench'))}, {json.dumps(str(ROOT))}]\n"
    )
    key = (
        subprocess.run(
            [sys.executable, "-m", "threadkit", "keys", "create", "--project", PROJECT, "--db", db],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "threadkit",
            "serve",
            "--port",
            str(port),
            "--db",
            db,
            "--config",
            str(config),
        ],
        stdout=(folder / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url, key
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError((folder / "server.log").read_text())


def seed_long_thread(folder: Path, db: str) -> str:
    thread_id = "cthr_bench_long"
    lines = [
        {
            "id": thread_id,
            "object": "chatkit.thread",
            "created_at": 1_712_345_600,
            "title": "Long",
            "status": {"type": "active"},
            "user": USER,
        }
    ]
    for n in range(ITEMS):
        lines.append(
            {
                "id": f"cthi_bench_{n:05}",
                "object": "chatkit.thread_item",
                "created_at": 1_712_345_601 + n,
                "thread_id": thread_id,
                "type": "chatkit.assistant_message",
                "content": [
                    {"type": "output_text", "text": f"item {n}: *some* text", "annotations": []}
                ],
            }
        )
    path = folder / "long.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    subprocess.run(
        [sys.executable, "-m", "threadkit", "import", str(path), "--project", PROJECT, "--db", db],
        check=True,
        capture_output=True,
    )
    return thread_id


def open_page(browser: Any, url: str, key: str, workflow: str) -> Any:
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    headers = {"content-security-policy": CONTENT_SECURITY_POLICY}
    page.route(
        f"{url}/bench/",
        lambda r: r.fulfill(body=PAGE_HTML, content_type="text/html", headers=headers),
    )
    page.route(
        f"{url}/bench/bench.css",
        lambda r: r.fulfill(body=PAGE_CSS, content_type="text/css", headers=headers),
    )

    def secret(current: str | None) -> str:
        response = httpx.post(
            f"{url}/v1/chatkit/sessions",
            headers={"Authorization": f"Bearer {key}", "OpenAI-Beta": "chatkit_beta=v1"},
            json={
                "user": USER,
                "workflow": {"id": workflow},
                "rate_limits": {"max_requests_per_1_minute": 10000},
            },
        )
        response.raise_for_status()
        return str(response.json()["client_secret"])

    page.expose_function("__secret", secret)
    page.add_init_script(INIT)
    page.goto(f"{url}/bench/")
    return page


def set_options(page: Any, extra: str = "") -> None:
    page.evaluate(
        "async () => { await customElements.whenDefined('threadkit-chat');"
        " document.querySelector('threadkit-chat').setOptions({ api: { url: '/chatkit',"
        f" getClientSecret: (c) => window.__secret(c) }}, {extra} }}); }}"
    )


def paint(browser: Any, url: str, key: str) -> dict[str, Any]:
    page = open_page(browser, url, key, "ticker")
    set_options(page)
    page.evaluate(WATCH)
    composer = page.locator("threadkit-chat").get_by_role("textbox", name="Message")
    composer.fill("go")
    composer.press("Enter")
    page.locator("threadkit-chat").get_by_role("button", name="Send").wait_for(timeout=60_000)
    arrived, shown, frames = page.evaluate("[window.__arrived, window.__shown, window.__frames]")
    page.close()
    latencies = sorted(shown[n] - arrived[n] for n in arrived if n in shown)
    intervals = [b - a for a, b in itertools.pairwise(frames)]
    frame = statistics.median(intervals[len(intervals) // 4 :])
    return {
        "deltas": len(arrived),
        "shown": len(latencies),
        "frame_ms": frame,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "max_ms": latencies[-1],
        "within_one_frame": sum(x <= frame + 1 for x in latencies) / len(latencies),
    }


def open_long(browser: Any, url: str, key: str, thread_id: str) -> dict[str, Any]:
    page = open_page(browser, url, key, "ticker")
    requests: list[str] = []
    page.on(
        "request",
        lambda r: (
            r.method == "POST" and "items.list" in (r.post_data or "") and requests.append(r.url)
        ),
    )
    page.evaluate(
        "() => { window.__loaded = new Promise((ok) => window.addEventListener("
        "'chatkit.thread.load.end', () => ok(performance.now()), { once: true })); }"
    )
    start = page.evaluate("performance.now()")
    set_options(page, f"initialThread: {json.dumps(thread_id)}")
    loaded = page.evaluate("window.__loaded")
    items = 'threadkit-chat [data-item-type="assistant_message"]'
    page.locator(items).last.get_by_text(f"item {ITEMS - 1}:").wait_for()
    first = page.locator(items).count()
    pages = len(requests)
    before = page.evaluate(
        "() => { const s = document.querySelector('threadkit-chat').shadowRoot"
        ".querySelector('.tk-scroller'); window.__t0 = performance.now(); s.scrollTop = 0;"
        " return s.scrollHeight; }"
    )
    page.wait_for_function(
        "(n) => document.querySelector('threadkit-chat').shadowRoot"
        ".querySelectorAll('[data-item-type]').length > n",
        arg=first,
    )
    older_ms = page.evaluate("performance.now() - window.__t0")
    after = page.locator(items).count()
    page.close()
    return {
        "open_ms": loaded - start,
        "rendered": first,
        "pages": pages,
        "older_page_ms": older_ms,
        "after_scroll": after,
        "scroll_height_before": before,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="the chat UI's size, paint and paging figures")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    figures: dict[str, Any] = {"size": sizes()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        process, url, key = start_server(folder)
        try:
            thread_id = seed_long_thread(folder, f"sqlite:///{folder / 'ui.db'}")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                figures["paint"] = paint(browser, url, key)
                figures["open"] = open_long(browser, url, key, thread_id)
                figures["chromium"] = browser.version
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=10)
    size, p, o = figures["size"], figures["paint"], figures["open"]
    print("| figure | value |\n| --- | --- |")
    for group, total in sorted(size["groups"].items()):
        print(f"| gzipped: {group} | {total / 1024:.1f} KB |")
    verdict = "met" if size["total"] <= TARGET_BYTES else "NOT met"
    print(
        f"| gzipped: all UI files | **{size['total'] / 1024:.1f} KB** (target 150 KB: {verdict}) |"
    )
    print(f"| deltas received / painted | {p['deltas']} / {p['shown']} |")
    print(f"| frame interval | {p['frame_ms']:.1f} ms |")
    print(
        f"| delta arrival to DOM, p50 / p95 / max | {p['p50_ms']:.1f} / {p['p95_ms']:.1f} /"
        f" {p['max_ms']:.1f} ms |"
    )
    print(f"| deltas on screen within one frame | {p['within_one_frame']:.1%} |")
    print(
        f"| 2,000-item thread: open to newest page | {o['open_ms']:.0f} ms, {o['rendered']} items"
        f" rendered, {o['pages']} items.list page(s) |"
    )
    print(
        f"| scroll to top: next older page in | {o['older_page_ms']:.0f} ms"
        f" ({o['after_scroll']} items rendered) |"
    )
    print(f"\nchromium {figures['chromium']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
