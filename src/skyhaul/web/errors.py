"""Errors as answers: every refusal is JSON ``{"error": "one line"}`` with a 4xx status.

Rules:
- Bad input (a malformed parameter, an unknown state, a bad date) is 400 with a message
  naming the parameter, never 422 with a stack of pydantic details and never a 500.
- skyhaul's own errors map by type: usage errors 400, an unknown thing 404, a catalog
  that cannot be reached 503. Anything else is logged and answered 500 without details
  (a traceback never reaches a browser).
- Pages (not ``/api/``) get the same status with the message in plain text.
- The OpenAPI schema says so: every operation that reads parameters documents 400 (not
  FastAPI's 422), and a route that can name an unknown thing declares 404 with
  :func:`error_responses`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from skyhaul.errors import CatalogUnavailableError, SkyhaulError, UsageError

__all__ = ["NotFoundError", "error_responses", "install_error_handlers"]

log = logging.getLogger("skyhaul.web")


class NotFoundError(UsageError):
    """What a request names does not exist (404)."""


#: What each refusal status means, in the schema.
_MEANINGS = {
    400: "Bad input: the message names the parameter.",
    404: "No such thing.",
    503: "The catalog cannot be reached.",
}
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that refuses with these statuses."""
    return {status: _documented(status) for status in statuses}


def _documented(status: int) -> dict[str, Any]:
    return {
        "description": _MEANINGS.get(status, "Refused."),
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    }


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as one line of JSON (or text, for a page), and say so in the
    OpenAPI schema."""
    _document_bad_input(app)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> Response:
        return _answer(request, 400, _validation_line(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _answer(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(SkyhaulError)
    async def skyhaul_error(request: Request, exc: SkyhaulError) -> Response:
        return _answer(request, _status(exc), exc.message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _answer(request, 500, "internal error (see the server's log)")


def _document_bad_input(app: FastAPI) -> None:
    """Make the schema say 400 where FastAPI says 422 (this app never answers 422)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if responses.pop("422", None) is not None:
                        responses.setdefault("400", _documented(400))
            schemas = document.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _status(error: SkyhaulError) -> int:
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, CatalogUnavailableError):
        return 503
    if isinstance(error, UsageError):
        return 400
    return 502  # an archive or a source failed: the server itself is fine


def _validation_line(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "bad request: " + "; ".join(parts)


def _answer(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))
    return PlainTextResponse(message, status_code=status, headers=dict(headers or {}))
