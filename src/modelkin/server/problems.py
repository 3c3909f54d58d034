"""RFC 9457 problem details: every error the API returns is ``application/problem+json``.

RFC 9457 §3.1 members used: ``type`` (a URI naming the problem kind; we use
``about:blank`` plus a stable ``urn:modelkin:problem:<slug>`` when more specific),
``title``, ``status``, ``detail`` and ``instance`` (the request path). The extension member
``where`` names the input at fault, as :class:`~modelkin.errors.ModelkinError` does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelkin.errors import LedgerError, ModelkinError, NotFoundError, StatementError

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(
    status: int,
    detail: str,
    request: Request | None = None,
    *,
    slug: str | None = None,
    where: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """One problem+json response."""
    body: dict[str, Any] = {
        "type": f"urn:modelkin:problem:{slug}" if slug else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    if where is not None:
        body["where"] = where
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_for(exc: ModelkinError) -> tuple[int, str]:
    """HTTP status and slug for a library error (the library's classes carry the meaning)."""
    if isinstance(exc, NotFoundError):
        return 404, "not-found"
    if isinstance(exc, StatementError):
        return 422, "statement-rejected"
    if isinstance(exc, LedgerError):
        return 409, "ledger"
    return 400, "bad-input"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    async def on_modelkin(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ModelkinError)
        status, slug = status_for(exc)
        return problem(status, exc.problem, request, slug=slug, where=exc.where)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem(
            exc.status_code,
            str(exc.detail),
            request,
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in errors[:5]
        ]
        return problem(422, "; ".join(parts) or "invalid request", request, slug="validation")

    app.add_exception_handler(ModelkinError, on_modelkin)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
