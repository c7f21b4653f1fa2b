"""Who is calling.

* The REST API: a project API key (``Authorization: Bearer``) and the
  ``OpenAI-Beta: chatkit_beta=v1`` header the hosted API requires (``Authenticator``).
* ``POST /chatkit`` (``ProtocolAuthenticator``): a live session's client secret, or a
  project API key with ``X-ChatKit-User`` (and optionally ``X-ChatKit-Workflow``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from threadkit.attachments import FileStorage
from threadkit.services.errors import InvalidRequest, Unauthenticated
from threadkit.services.keys import KeyService
from threadkit.services.ratelimit import RateLimiter
from threadkit.services.sessions import MAX_USER, SessionService, is_session_secret
from threadkit.stores import ThreadStore
from threadkit.stores.records import KeyRow, SessionRow
from threadkit.workflows import ChatContext, WorkflowRegistry
from threadkit.workflows.context import SERVER_CONFIGURATION

BETA_HEADER_VALUE = "chatkit_beta=v1"
USER_HEADER = "x-chatkit-user"
WORKFLOW_HEADER = "x-chatkit-workflow"
_BETA_HEADER_BYTES = BETA_HEADER_VALUE.encode()


def _auth_headers(request: Request) -> tuple[bytes | None, bytes | None]:
    """The first ``Authorization`` and ``OpenAI-Beta`` headers, read straight from the
    ASGI scope (whose header names are lower case): one pass, no ``Headers`` object."""
    authorization = beta = None
    for name, value in request.scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"openai-beta" and beta is None:
            beta = value
    return authorization, beta


def _token(authorization: bytes | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _protocol_headers(request: Request) -> tuple[bytes | None, bytes | None, bytes | None]:
    """The first ``Authorization``, ``X-ChatKit-User`` and ``X-ChatKit-Workflow`` headers,
    in one pass over the ASGI scope's raw headers."""
    authorization = user = workflow = None
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value
        elif name == b"x-chatkit-user":
            if user is None:
                user = value
        elif name == b"x-chatkit-workflow" and workflow is None:
            workflow = value
    return authorization, user, workflow


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    return _token(_auth_headers(request)[0])


class Authenticator:
    """Checks REST requests; ``require_beta_header=False`` relaxes the beta header."""

    def __init__(self, keys: KeyService, *, require_beta_header: bool = True) -> None:
        self.keys = keys
        self.require_beta_header = require_beta_header

    async def project_key(self, request: Request) -> KeyRow:
        authorization, beta = _auth_headers(request)
        key = await self.keys.authenticate(_token(authorization))
        if self.require_beta_header and beta != _BETA_HEADER_BYTES:
            values = (beta or b"").decode("latin-1")
            if BETA_HEADER_VALUE not in (v.strip() for v in values.split(",")):
                raise InvalidRequest(
                    "You must provide the 'OpenAI-Beta' header to access the ChatKit API: "
                    f"'OpenAI-Beta: {BETA_HEADER_VALUE}'.",
                    param="OpenAI-Beta",
                    code="missing_beta_header",
                )
        request.scope["state"]["project"] = key.project  # for the access line
        return key


@dataclass(slots=True)  # not frozen: made per request, and a frozen one costs twice
class Caller:
    """Who calls ``POST /chatkit``: what the fast reads need, and what
    ``ProtocolAuthenticator.context`` makes the request's ``ChatContext`` from (only
    when the generic path answers)."""

    project: str
    user_id: str
    workflow_id: str
    #: the session's ``chatkit_configuration``, or the server's for a project API key
    configuration: dict[str, Any]
    #: ``None`` with a project API key
    session: SessionRow | None


class ProtocolAuthenticator:
    """Identifies the caller of ``POST /chatkit`` and builds the request's context.

    With a session's client secret, the session fixes the project, the user and the
    workflow, and its rate limit applies. With a project API key, ``X-ChatKit-User``
    names the user and ``X-ChatKit-Workflow`` the workflow (the default one otherwise).
    """

    def __init__(
        self,
        *,
        sessions: SessionService,
        keys: KeyService,
        limiter: RateLimiter,
        workflows: WorkflowRegistry,
        store: ThreadStore,
        files: FileStorage,
        public_url: str | None,
    ) -> None:
        self.sessions = sessions
        self.keys = keys
        self.limiter = limiter
        self.workflows = workflows
        self.store = store
        self.files = files
        self.public_url = public_url
        #: (scheme, Host header, root path) -> the base URL Starlette derives from them
        self._base_urls: dict[tuple[Any, ...], str] = {}

    def _base_url(self, request: Request) -> str:
        if self.public_url:
            return self.public_url
        scope = request.scope
        host = next((v for n, v in scope["headers"] if n == b"host"), None)
        key = (scope.get("scheme"), host, scope.get("root_path"), scope.get("server"))
        found = self._base_urls.get(key)
        if found is None:
            found = str(request.base_url).rstrip("/")
            if len(self._base_urls) < 256:  # a bounded number of names for this server
                self._base_urls[key] = found
        return found

    async def caller(self, request: Request) -> Caller:
        """The calling user, or ``Unauthenticated``, ``RateLimited`` or
        ``InvalidRequest`` (no user header, an unknown workflow)."""
        authorization, user_header, workflow_header = _protocol_headers(request)
        token = _token(authorization)
        if not token:
            raise Unauthenticated(
                "You didn't provide a client secret. Send the session's client secret as "
                "'Authorization: Bearer <client_secret>'."
            )
        if is_session_secret(token):
            session = await self.sessions.authenticate(token)
            await self.limiter.admit(session)
            workflow_id = session.workflow["id"]
            if workflow_id not in self.workflows:
                raise InvalidRequest(
                    f"The session's workflow '{workflow_id}' is no longer configured on this "
                    "server.",
                    code="workflow_unavailable",
                )
            return Caller(
                session.project, session.user, workflow_id, session.configuration, session
            )
        key = await self.keys.authenticate(token)
        user = user_header.decode("latin-1") if user_header is not None else ""
        if not user or len(user) > MAX_USER:
            raise InvalidRequest(
                "With a project API key, name the user in the 'X-ChatKit-User' header "
                f"(1 to {MAX_USER} characters).",
                param="X-ChatKit-User",
                code="missing_user",
            )
        workflow_id = (
            workflow_header.decode("latin-1") if workflow_header else None
        ) or self.workflows.default
        if workflow_id is None or workflow_id not in self.workflows:
            raise InvalidRequest(
                f"Invalid 'X-ChatKit-Workflow': no workflow '{workflow_id}' is configured on "
                "this server.",
                param="X-ChatKit-Workflow",
                code="invalid_value",
            )
        return Caller(key.project, user, workflow_id, SERVER_CONFIGURATION, None)

    def context(self, caller: Caller, request: Request) -> ChatContext:
        """The ``ChatContext`` of a caller's request, for the workflow and the store."""
        session = caller.session
        if session is None:
            return ChatContext(
                project=caller.project,
                user_id=caller.user_id,
                workflow=self.workflows[caller.workflow_id],
                store=self.store,
                files=self.files,
                base_url=self._base_url(request),
            )
        return ChatContext(
            project=caller.project,
            user_id=caller.user_id,
            workflow=self.workflows[caller.workflow_id],
            state_variables=dict(session.workflow.get("state_variables") or {}),
            configuration=session.configuration,
            session=session,
            store=self.store,
            files=self.files,
            base_url=self._base_url(request),
        )
