"""Who is calling: a project API key (``Authorization: Bearer``) and, for the REST
API, the ``OpenAI-Beta: chatkit_beta=v1`` header the hosted API requires."""

from __future__ import annotations

from starlette.requests import Request

from threadkit.services.errors import InvalidRequest
from threadkit.services.keys import KeyService
from threadkit.stores.base import KeyRow

BETA_HEADER_VALUE = "chatkit_beta=v1"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class Authenticator:
    """Checks REST requests; ``require_beta_header=False`` relaxes the beta header."""

    def __init__(self, keys: KeyService, *, require_beta_header: bool = True) -> None:
        self.keys = keys
        self.require_beta_header = require_beta_header

    async def project_key(self, request: Request) -> KeyRow:
        key = await self.keys.authenticate(bearer_token(request))
        if self.require_beta_header:
            values = request.headers.get("openai-beta", "")
            if BETA_HEADER_VALUE not in (v.strip() for v in values.split(",")):
                raise InvalidRequest(
                    "You must provide the 'OpenAI-Beta' header to access the ChatKit API: "
                    f"'OpenAI-Beta: {BETA_HEADER_VALUE}'.",
                    param="OpenAI-Beta",
                    code="missing_beta_header",
                )
        return key
