"""``POST /chatkit``: the ChatKit protocol endpoint.

Authentication, one of:

* ``Authorization: Bearer <client_secret>`` of a live session: the session fixes the
  project, the user and the workflow, and its rate limit applies;
* ``Authorization: Bearer <project API key>`` plus ``X-ChatKit-User: <user>`` (and
  optionally ``X-ChatKit-Workflow: <id>``) for server-to-server callers.

Everything that can be refused is refused before a stream starts, with an HTTP
status and OpenAI's error envelope: a bad body (400), a missing or foreign thread
or item (404), a locked or closed thread (409), something the workflow does not
support (400). Errors inside a stream become the protocol's ``error`` event and the
stream ends cleanly. When the client goes away mid-stream the turn is cancelled the
way ``ChatKitServer`` defines it: the partial assistant message is kept.
"""

from __future__ import annotations

from chatkit.server import StreamingResult
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadkit.protocol.preconditions import Preconditions
from threadkit.protocol.reads import FastReads
from threadkit.protocol.requests import decode_body, request_from
from threadkit.protocol.server import ThreadkitServer

from .auth import ProtocolAuthenticator
from .body import read_body, refuse_declared_too_large
from .responses import JSONBytesResponse
from .routing import route
from .sse import EventStream, guarded


class ProtocolEndpoint:
    def __init__(
        self,
        *,
        max_body_bytes: int,
        authenticator: ProtocolAuthenticator,
        preconditions: Preconditions,
        server: ThreadkitServer,
        reads: FastReads | None = None,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.authenticator = authenticator
        self.preconditions = preconditions
        self.server = server
        self.reads = reads

    async def handle(self, request: Request) -> Response:
        refuse_declared_too_large(request, self.max_body_bytes)  # before authenticating
        caller = await self.authenticator.caller(request)
        request.scope["state"]["project"] = caller.project  # for the access line
        data = decode_body(await read_body(request, self.max_body_bytes, declared_checked=True))
        if self.reads is not None:
            answer = await self.reads.answer(data, caller)
            if answer is not None:
                return JSONBytesResponse(answer)
        context = self.authenticator.context(caller, request)
        req = request_from(data)
        context.metadata = dict(req.metadata)
        await self.preconditions.check(req, context)
        result = await self.server.answer(req, context)
        if isinstance(result, StreamingResult):
            return EventStream(guarded(result))
        return JSONBytesResponse(result.json)


def routes(endpoint: ProtocolEndpoint) -> list[Route]:
    return [route("/chatkit", endpoint.handle, methods=["POST"])]
