"""Errors raised by the services. The HTTP layer maps each kind to a status code
and OpenAI's error envelope; the CLI prints the message."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: ``message`` for people, ``param`` and ``code`` for programs."""

    kind = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequest(ServiceError):
    """The request is malformed or a parameter is out of range (HTTP 400)."""


class NotFound(ServiceError):
    """The object does not exist, or not for this caller (HTTP 404)."""

    kind = "not_found"


class Unauthenticated(ServiceError):
    """No credentials, or credentials that are unknown, revoked or expired (HTTP 401)."""

    kind = "unauthenticated"


class Conflict(ServiceError):
    """The object cannot take this change in its current state (HTTP 409)."""

    kind = "conflict"


class PayloadTooLarge(ServiceError):
    """The request body or an uploaded file is larger than allowed (HTTP 413)."""

    kind = "too_large"


class RateLimited(ServiceError):
    """Too many requests; ``retry_after`` seconds until one more is allowed (HTTP 429)."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after
