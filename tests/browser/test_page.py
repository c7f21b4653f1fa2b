"""The page at ``/``: it loads under its strict policy, with nothing from outside."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import PageLog, axe_violations, ui_token
from tests.conftest import Server


def test_the_page_loads_without_errors_or_outside_requests(
    page: Any, page_log: PageLog, ui_server: Server
) -> None:
    response = page.goto(ui_server.url + "/")
    assert response.status == 200
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.title() == "threadkit chat"
    assert page_log.requests[0] == ui_server.url + "/"
    assert axe_violations(page) == []
    # tokens are made in the database the server reads (run() from Playwright's loop)
    assert ui_token(ui_server, "p").startswith("tk-")


def test_console_errors_and_outside_requests_are_caught(
    page: Any, page_log: PageLog, ui_server: Server
) -> None:
    page.goto(ui_server.url + "/")
    page.evaluate("fetch('/ui/no-such-file.js').then((r) => r.text())")
    page.evaluate("fetch('http://203.0.113.9/x').catch(() => null)")
    page.evaluate("setTimeout(() => { throw new Error('boom from the page'); }, 0)")
    wanted = {
        "a failed load": lambda p: p.startswith("console error") and "404" in p,
        "a refused request": lambda p: "203.0.113.9" in p,
        "an uncaught error": lambda p: p.startswith("page error") and "boom from the page" in p,
    }
    missing = list(wanted)
    for _ in range(100):  # the events arrive over Playwright's connection
        problems = page_log.problems()
        missing = [w for w, seen in wanted.items() if not any(seen(p) for p in problems)]
        if not missing:
            break
        page.wait_for_timeout(50)
    assert missing == [], page_log.problems()
    page_log.allow("no-such-file|203\\.0\\.113\\.9|boom from the page")
    assert page_log.problems() == []
