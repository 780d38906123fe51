"""Errors as RFC 9457 problem details, mapped once from the :mod:`ftpush.errors` tree.

Every error response of the API is ``application/problem+json``::

    {"type": "https://ftpush.dev/problems/invalid-input", "title": "Invalid input",
     "status": 422, "detail": "the deeplink must be an absolute URI", "field": "deeplink",
     "errors": [{"field": "deeplink", "message": "..."}]}

``field`` (and ``errors``) name what was wrong; nothing else about the server leaks
(no tracebacks, no SQL).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ftpush.errors import (
    Conflict,
    FileRejected,
    FtpushError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StorageError,
)

log = logging.getLogger("ftpush.web")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://ftpush.dev/problems/"

# Most specific first: the first class an error is an instance of decides.
_MAPPING: list[tuple[type[FtpushError], int, str, str]] = [
    (FileRejected, 422, "file-rejected", "The file is rejected"),
    (InvalidInput, 422, "invalid-input", "Invalid input"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (PermissionDenied, 403, "forbidden", "Forbidden"),
    (StorageError, 503, "unavailable", "Service unavailable"),
]

_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
    429: ("too-many-requests", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every API error is answered."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    code: str | None = None
    errors: list[FieldError] | None = None


def _described(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "model": Problem,
    }


# Declared on every API route, so the OpenAPI document tells the truth about errors
# (and FastAPI's own 422 schema, which our handler never sends, is not advertised).
API_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _described("No API key, or an unknown or revoked one"),
    403: _described("Not allowed"),
    404: _described("Not found (or another app's)"),
    413: _described("The request body is too large"),
    422: _described("Invalid input; `field` names what is wrong"),
    503: _described("The database is unavailable"),
}


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem-details response."""
    default_kind, default_title = _TITLES.get(status, ("error", "Error"))
    body = {
        "type": PROBLEM_BASE + (kind or default_kind),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def from_error(exc: FtpushError) -> JSONResponse:
    for cls, status, kind, title in _MAPPING:
        if isinstance(exc, cls):
            field = getattr(exc, "field", None)
            errors = [{"field": field, "message": exc.message}] if field else None
            return problem(
                status, exc.message, kind=kind, title=title, field=field, errors=errors,
                code=exc.code,
            )  # fmt: skip
    log.error("unmapped error %s: %s", type(exc).__name__, exc.message)
    return problem(500, "internal error", kind="internal", title="Internal error")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def install(app: FastAPI) -> None:
    """Register the handlers: ftpush errors, validation errors, HTTP errors, the rest."""

    @app.exception_handler(FtpushError)
    async def _ftpush(request: Request, exc: FtpushError) -> JSONResponse:
        return from_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _location(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "request", "message": "invalid"}
        return problem(
            422, f"{first['field']}: {first['message']}", field=first["field"], errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "internal error", kind="internal", title="Internal error")
