"""OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from threadkit.services.errors import ServiceError

from .responses import JSONResponse

_STATUS = {
    "invalid_request": 400,
    "unauthenticated": 401,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
}


def error_response(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def service_error_response(exc: ServiceError) -> JSONResponse:
    status = _STATUS[exc.kind]
    headers = None
    kind = "invalid_request_error"
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"retry-after": str(retry_after)}
        kind = "requests"
    return error_response(
        status, exc.message, type=kind, param=exc.param, code=exc.code, headers=headers
    )


def invalid_url(method: str, path: str) -> JSONResponse:
    return error_response(404, f"Invalid URL ({method} {path})")


def unavailable(message: str) -> JSONResponse:
    return error_response(
        503,
        message,
        type="service_unavailable_error",
        code="service_unavailable",
        headers={"retry-after": "1"},
    )


def internal_error() -> JSONResponse:
    return error_response(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )
