"""``GET /v1/chatkit/export``, a threadkit extension: the project's threads, or one
user's, in the export format (the bytes ``threadkit export`` writes), streamed."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from threadkit.services.transfer import export_lines
from threadkit.stores import ThreadStore

from . import params
from .auth import Authenticator
from .routing import route

NDJSON = "application/x-ndjson"
#: lines are sent in chunks of about this many bytes (a message per line costs more)
CHUNK_BYTES = 64 * 1024


async def chunked(lines: AsyncIterable[bytes], size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """The lines joined into chunks of at least ``size`` bytes (the last one smaller)."""
    pending: list[bytes] = []
    held = 0
    async for line in lines:
        pending.append(line)
        held += len(line)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def routes(auth: Authenticator, store: ThreadStore) -> list[Route]:
    async def export(request: Request) -> Response:
        key = await auth.project_key(request)
        user = params.string(request.query_params, "user")
        # Every check is done here: past this point the export streams or is cut short.
        return StreamingResponse(
            chunked(export_lines(store, key.project, user)),
            media_type=NDJSON,
            headers={
                "cache-control": "no-store",
                "content-disposition": 'attachment; filename="threadkit-export.jsonl"',
            },
        )

    return [route("/v1/chatkit/export", export, methods=["GET"])]
