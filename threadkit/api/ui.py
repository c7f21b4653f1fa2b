"""The chat UI: the page at ``/`` and the component's files under ``/ui/``."""

from __future__ import annotations

from starlette.routing import Route

from threadkit.web import ui_app


def routes() -> list[Route]:
    """``/`` and ``/ui/…`` (every method: the files answer 405 for all but GET and HEAD).
    Listed after the API's routes, which keep winning."""
    files = ui_app()
    return [
        Route("/", files, name="ui_page"),
        Route("/ui/{path:path}", files, name="ui_files"),
    ]
