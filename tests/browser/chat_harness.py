"""A bare page around ``<threadkit-chat>`` for the component's own tests.

``mount_chat`` opens a page on the server's origin (served by Playwright from this
module, with the UI's strict Content-Security-Policy) that loads
``/ui/threadkit-chat.js`` and calls ``setOptions`` with the test's options. The
component's ``getClientSecret`` asks Python for each secret (``Secrets``), which makes
a session with the REST API; every ``chatkit.*`` event the element fires is recorded
in ``window.__tkEvents``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import Server
from threadkit.web import CONTENT_SECURITY_POLICY

HARNESS_PATH = "/__chat_test__/"

HARNESS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chat test</title>
<link rel="stylesheet" href="harness.css">
<script type="module" src="/ui/threadkit-chat.js"></script>
</head>
<body><main><h1>chat test</h1><threadkit-chat></threadkit-chat></main></body>
</html>
"""

HARNESS_CSS = """
html, body { margin: 0; height: 100%; }
main { height: 100%; display: flex; flex-direction: column; }
h1 { position: absolute; left: -9999px; }
threadkit-chat { flex: 1; min-height: 0; }
"""

EVENTS = [
    "chatkit.ready",
    "chatkit.error",
    "chatkit.effect",
    "chatkit.response.start",
    "chatkit.response.end",
    "chatkit.thread.change",
    "chatkit.thread.load.start",
    "chatkit.thread.load.end",
    "chatkit.history.open",
    "chatkit.history.close",
    "chatkit.log",
]

RECORD_EVENTS = (
    "window.__tkEvents = [];"
    f"for (const name of {json.dumps(EVENTS)}) {{"
    "  window.addEventListener(name, (e) => {"
    "    let detail = e.detail;"
    "    if (detail && detail.error) {"
    "      detail = {...detail, error: String(detail.error.message || detail.error)};"
    "    }"
    "    window.__tkEvents.push({name, detail: detail === undefined ? null : detail});"
    "  }, true);"
    "}"
)


@dataclass
class Secrets:
    """Hands out session secrets to the component: each call makes a session (the
    official SDK, project API key) unless ``queue`` holds a canned answer first."""

    server: Server
    project: str
    user: str
    workflow: str
    configuration: dict[str, Any] = field(default_factory=dict)
    queue: list[str] = field(default_factory=list)
    #: the ``current`` secret the component passed on each call
    calls: list[str | None] = field(default_factory=list)

    def __call__(self, current: str | None) -> str:
        self.calls.append(current)
        if self.queue:
            return self.queue.pop(0)
        return self.new_session().client_secret

    def new_session(self) -> Any:
        extra: dict[str, Any] = {}
        if self.configuration:
            extra["chatkit_configuration"] = self.configuration
        return self.server.client(self.project).beta.chatkit.sessions.create(
            user=self.user,
            workflow={"id": self.workflow},
            rate_limits={"max_requests_per_1_minute": 1000},
            **extra,
        )


@dataclass
class Mounted:
    page: Any
    server: Server
    secrets: Secrets

    @property
    def chat(self) -> Any:
        return self.page.locator("threadkit-chat")

    @property
    def composer(self) -> Any:
        return self.chat.get_by_role("textbox", name="Message")

    def item(self, item_type: str, nth: int = -1) -> Any:
        items = self.chat.locator(f'[data-item-type="{item_type}"]')
        return items.nth(nth) if nth >= 0 else items.last

    def send(self, text: str) -> None:
        self.composer.fill(text)
        self.composer.press("Enter")

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        events = self.page.evaluate("window.__tkEvents")
        return [e for e in events if name is None or e["name"] == name]

    def wait_for_event(self, name: str, count: int = 1) -> None:
        # a function, not an expression string: a string would need eval, which the
        # page's policy refuses
        self.page.wait_for_function(
            "([name, count]) => window.__tkEvents.filter((e) => e.name === name).length >= count",
            arg=[name, count],
            timeout=TIMEOUT_MS,
        )

    def wait_idle(self, responses: int = 1) -> None:
        """Until ``responses`` answers have ended (chatkit.response.end)."""
        self.wait_for_event("chatkit.response.end", responses)

    def thread_id(self) -> str | None:
        changes = self.events("chatkit.thread.change")
        return changes[-1]["detail"]["threadId"] if changes else None

    def set_options(self, options: str) -> None:
        self.page.evaluate(set_options_script(options))


def set_options_script(options: str) -> str:
    """JS that calls setOptions with ``options`` (a JS object expression whose ``api``
    is filled in: the server's /chatkit and the Python secrets)."""
    return f"""async () => {{
      const defined = customElements.whenDefined('threadkit-chat');
      const late = new Promise((_, fail) => setTimeout(
        () => fail(new Error('<threadkit-chat> was not defined (its module failed to load)')),
        10000));
      await Promise.race([defined, late]);
      const el = document.querySelector('threadkit-chat');
      const extra = ({options});
      const api = {{
        url: '/chatkit',
        getClientSecret: (current) => window.__tkSecret(current),
        ...(extra.api || {{}}),
      }};
      el.setOptions({{ ...extra, api }});
    }}"""


def mount_chat(
    page: Any,
    server: Server,
    project: str,
    options: str = "{}",
    *,
    user: str = "alice",
    workflow: str = "echo",
    configuration: dict[str, Any] | None = None,
    secrets: Secrets | None = None,
    before: Callable[[Any], None] | None = None,
    wait_ready: bool = True,
) -> Mounted:
    """The component on a page of ``server``'s origin, configured with ``options``."""
    secrets = secrets or Secrets(server, project, user, workflow, configuration or {})
    base = server.url + HARNESS_PATH
    headers = {
        "content-security-policy": CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff",
    }
    page.route(
        base,
        lambda route: route.fulfill(
            status=200, body=HARNESS_HTML, content_type="text/html", headers=headers
        ),
    )
    page.route(
        base + "harness.css",
        lambda route: route.fulfill(
            status=200, body=HARNESS_CSS, content_type="text/css", headers=headers
        ),
    )
    page.expose_function("__tkSecret", secrets)
    page.add_init_script(RECORD_EVENTS)
    if before is not None:
        before(page)
    page.goto(base)
    mounted = Mounted(page, server, secrets)
    mounted.set_options(options)
    if wait_ready:
        mounted.wait_for_event("chatkit.ready")
    return mounted


def reload(m: Mounted, options: str = "{}") -> None:
    """Loads the page again (what a user's refresh does) and configures the component
    anew; secrets keep coming from the same ``Secrets``."""
    m.page.reload()
    m.set_options(options)
    m.wait_for_event("chatkit.ready")
