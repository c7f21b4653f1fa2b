"""Who is calling: a project API key (``Authorization: Bearer``) and, for the REST
API, the ``OpenAI-Beta: chatkit_beta=v1`` header the hosted API requires."""

from __future__ import annotations

from starlette.requests import Request

from threadkit.services.errors import InvalidRequest
from threadkit.services.keys import KeyService
from threadkit.stores.base import KeyRow

BETA_HEADER_VALUE = "chatkit_beta=v1"
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
