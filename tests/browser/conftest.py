"""Browser tests: Debian's chromium driven by Playwright's sync API, against real
``threadkit serve`` processes (both backends).

Fixtures:

* ``browser``: one headless chromium for the test session;
* ``page``: a fresh browser context and page per test. At teardown the test FAILS if the
  page logged a console error, threw an uncaught error, or requested anything outside
  the servers' origins, unless the test allowed it with ``page_log.allow(pattern)``;
* ``page_log``: what ``page`` recorded (``allow`` patterns are regular expressions,
  searched in the console text or the request URL);
* ``ui_server``: per backend, a server with the workflows of ``BROWSER_WORKFLOWS``
  (``echo`` built in, ``slow``, and the ``WORKFLOWS`` dicts of
  ``tests/browser/chat_workflows.py`` and ``tests/browser/widget_workflows.py``) and an
  attachments folder.

Functions: ``ui_key`` (a project API key, for the page's sign-in form), ``ui_token`` (a
fresh one-time login token), ``open_chat`` (the page at ``/`` signed in with a token,
once ``<threadkit-chat>`` fired ``chatkit.ready``) and ``axe_violations``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import IN_CI, Kept, Server, serving, start_server, with_store
from threadkit.services.ui_login import UILogin

REPO = Path(__file__).resolve().parent.parent.parent
CHROMIUM = os.environ.get("THREADKIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these chromium calls Google's hosts at every start
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: how long the functions below wait for the page (ms)
TIMEOUT_MS = 15_000
#: the component's file: tests that need it are skipped (only) while it is not there
COMPONENT = REPO / "threadkit" / "web" / "ui" / "threadkit-chat.js"
needs_component = pytest.mark.skipif(
    not COMPONENT.exists(),
    reason="threadkit/web/ui/threadkit-chat.js (the <threadkit-chat> component) is not "
    "in this tree yet",
)


# --- the workflows of the browser tests' servers --------------------------------------------

#: workflow name -> "module:attr" of a python workflow, or a whole TOML table (a dict)
BROWSER_WORKFLOWS: dict[str, str | dict[str, Any]] = {"slow": "tests.sample_workflows:slow"}
for _name in ("chat_workflows", "widget_workflows"):
    try:
        _module = importlib.import_module(f"tests.browser.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"tests.browser.{_name}":
            raise
        continue
    for _workflow, _target in getattr(_module, "WORKFLOWS", {}).items():
        if _workflow in BROWSER_WORKFLOWS or _workflow == "echo":
            raise RuntimeError(f"tests.browser.{_name}: workflow {_workflow!r} named twice")
        BROWSER_WORKFLOWS[_workflow] = _target


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def browser_config(workflows: dict[str, str | dict[str, Any]]) -> str:
    """The TOML config naming ``workflows`` (``echo`` is the default)."""
    lines = ['default_workflow = "echo"', "", "[workflows.echo]", 'kind = "echo"']
    for name, target in workflows.items():
        table: dict[str, Any] = (
            {"kind": "python", "target": target, "python_path": [str(REPO)]}
            if isinstance(target, str)
            else dict(target)
        )
        lines += ["", f"[workflows.{name}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


# --- servers ------------------------------------------------------------------------------

#: origins of every server the browser tests started (requests elsewhere fail a test)
SERVER_ORIGINS: set[str] = set()
#: attachment folder of each UI server, by its URL
UI_FILES: dict[str, Path] = {}


def start_ui_server(backend: str, url: str, folder: Path, *extra: str) -> Server:
    config = folder / "threadkit.toml"
    config.write_text(browser_config(BROWSER_WORKFLOWS))
    files = folder / "files"
    srv = start_server(
        url, backend, folder, "--config", str(config), "--attachments-dir", str(files), *extra
    )
    SERVER_ORIGINS.add(srv.url)
    UI_FILES[srv.url] = files
    return srv


BROWSER_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run on SQLite; those marked ``both_backends`` (a turn, the history)
    on PostgreSQL too. What the browser sees does not depend on the store, which the
    contract tests check on both backends; running every browser test twice would
    double the longest part of the suite."""
    dropped = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (
            callspec is not None
            and callspec.params.get("database") == "postgres"
            and BROWSER_TESTS in item.path.parents
            and item.get_closest_marker("both_backends") is None
        ):
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]


@pytest.fixture(scope="session")
def ui_server(
    database: tuple[str, str], kept: Kept, tmp_path_factory: pytest.TempPathFactory
) -> Server:
    backend, url = database
    return kept.get(
        ("ui_server", backend),
        lambda: serving(start_ui_server(backend, url, tmp_path_factory.mktemp(f"ui-{backend}"))),
    )


def ui_key(server: Server, project: str) -> str:
    """A project API key, as the page's sign-in form takes it."""
    return server.key(project)


def ui_token(server: Server, project: str | None = None) -> str:
    """A fresh one-time login token for ``project`` (default: the server's UI project)."""
    return with_store(server.db, lambda store: UILogin(store).issue(project))


# --- the browser --------------------------------------------------------------------------


def _chromium_problem() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM} (Debian: apt-get install chromium; ./scripts/test does)"
    try:
        import playwright  # noqa: F401
    except ImportError as exc:
        return f"playwright is not installed ({exc}); pip install -e '.[test]'"
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Chromium, for the tests of this folder only: Playwright's sync API keeps an event
    loop running in the test's thread while it is open, where ``asyncio.run`` refuses
    to run (the other folders' tests use it)."""
    problem = _chromium_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true and {problem}", pytrace=False)
        print(f"\n!!! SKIPPING browser tests: {problem} !!!\n", file=sys.stderr)
        pytest.skip(f"browser tests skipped: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageLog:
    """What a page did that a test may have to answer for."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Let console errors and outside requests matching ``pattern`` (a regular
        expression, searched) pass."""
        self.allowed.append(re.compile(pattern))

    def _passes(self, text: str) -> bool:
        return any(p.search(text) for p in self.allowed)

    def outside_requests(self) -> list[str]:
        """Requests to anything but the servers' origins (``data:`` and ``blob:`` are
        the page's own)."""
        outside = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if f"{parts.scheme}://{parts.netloc}" not in SERVER_ORIGINS:
                outside.append(url)
        return outside

    def problems(self) -> list[str]:
        found = [f"console error: {t}" for t in self.console_errors]
        found += [f"page error: {t}" for t in self.page_errors]
        found += [f"request outside the origin: {u}" for u in self.outside_requests()]
        return [p for p in found if not self._passes(p)]


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Any, page_log: PageLog) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    context.on("request", lambda request: page_log.requests.append(request.url))
    pg = context.new_page()

    def on_console(message: Any) -> None:
        if message.type == "error":
            where = message.location or {}
            page_log.console_errors.append(f"{message.text} ({where.get('url', '')})")

    pg.on("console", on_console)
    pg.on("pageerror", lambda error: page_log.page_errors.append(str(error)))
    yield pg
    context.close()
    problems = page_log.problems()
    if problems:
        pytest.fail("the page misbehaved:\n" + "\n".join(problems), pytrace=False)


# --- signing in, waiting, checking ---------------------------------------------------------

#: counts ``chatkit.ready`` events (capture phase: seen whatever element fires them) in an
#: attribute of ``<html>``: a locator can wait for it, where ``wait_for_function`` cannot
#: (it evaluates a string, which the page's policy forbids)
READY_COUNTER = """
document.addEventListener('chatkit.ready', () => {
  const root = document.documentElement;
  root.dataset.threadkitReady = String(Number(root.dataset.threadkitReady || 0) + 1);
}, true);
"""


def wait_until_ready(page: Any, count: int = 1) -> None:
    """Wait until ``chatkit.ready`` fired ``count`` times since the page loaded (needs
    ``page.add_init_script(READY_COUNTER)`` before the page loads)."""
    page.locator(f'html[data-threadkit-ready="{count}"]').wait_for(state="attached")


@dataclass
class OpenChat:
    """The page at ``/`` signed in, with a ``<threadkit-chat>`` ready."""

    page: Any
    server: Server
    project: str
    user: str
    workflow: str

    @property
    def chat(self) -> Any:
        """The ``<threadkit-chat>`` element (a Playwright locator; it pierces its shadow
        root: ``chat.get_by_role("textbox", name="Message")``)."""
        return self.page.locator("threadkit-chat")

    def ready_count(self) -> int:
        """How often ``chatkit.ready`` fired since the page loaded."""
        return int(self.page.evaluate("document.documentElement.dataset.threadkitReady || 0"))


def open_chat(
    page: Any, server: Server, project: str, user: str = "alice", workflow: str = "echo"
) -> OpenChat:
    """Navigate to ``/`` with a fresh one-time token for ``project`` (and the user and
    workflow to chat as) and wait until ``<threadkit-chat>`` fired ``chatkit.ready``."""
    page.add_init_script(READY_COUNTER)
    token = ui_token(server, project)
    page.goto(f"{server.url}/?token={quote(token)}&user={quote(user)}&workflow={quote(workflow)}")
    wait_until_ready(page)
    return OpenChat(page, server, project, user, workflow)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    # No CSSOM preload: it copies the stylesheets of shadow roots into inline <style>
    # elements, which the page's policy refuses (a console error); only the
    # css-orientation-lock rule reads them.
    results = Axe().run(page, options={"resultTypes": ["violations"], "preload": False})
    return [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]


__all__ = [
    "BROWSER_WORKFLOWS",
    "COMPONENT",
    "READY_COUNTER",
    "UI_FILES",
    "OpenChat",
    "PageLog",
    "axe_violations",
    "needs_component",
    "open_chat",
    "start_ui_server",
    "ui_key",
    "ui_token",
    "wait_until_ready",
]
