"""``tests._types`` for openai-chatkit's own tests: the request context they pass."""

from pydantic import BaseModel


class RequestContext(BaseModel):
    """Whose threads a store call is about."""

    user_id: str
