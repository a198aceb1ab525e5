"""Every error leaves the gateway as RFC 9457 `application/problem+json`.

Messages say what was wrong and how to fix it; a 500 never carries the exception's text,
which may hold SQL, URLs or secrets. It goes to the log instead. The problem models at the end
document these answers in the OpenAPI schema.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from activities.db.outages import database_unreachable
from services.gateway.openai_errors import OPENAI_PATHS, openai_error

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:agentry:problem:"


class ProblemError(Exception):
    """Raise from a route to answer with a problem; `kind` becomes the problem's type URI."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


def problem_body(
    status: int,
    detail: str | None,
    *,
    instance: str | None = None,
    kind: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + kind if kind else "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update(extra or {})
    return body


def problem_response(
    status: int,
    detail: str | None,
    *,
    instance: str | None = None,
    kind: str | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    if instance is not None and instance.startswith(OPENAI_PATHS):
        return JSONResponse(
            openai_error(status, detail, kind=kind, extra=extra),
            status_code=status,
            headers=dict(headers) if headers else None,
        )
    return JSONResponse(
        problem_body(status, detail, instance=instance, kind=kind, extra=extra),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=dict(headers) if headers else None,
    )


def invalid_field(field: str, message: str) -> ProblemError:
    """A 422 about one field of the body, shaped like the validation errors."""
    return ProblemError(
        422,
        f"the request is invalid: body.{field}: {message}",
        kind="validation",
        extra={"errors": [{"field": f"body.{field}", "message": message, "type": "value_error"}]},
    )


def describe_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """One entry per bad field, e.g. {"field": "body.input", "message": "...", "type": "..."}."""
    described = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        described.append(
            {
                "field": ".".join(location) or "request",
                "message": str(error.get("msg", "is invalid")),
                "type": str(error.get("type", "value_error")),
            }
        )
    return described


def is_malformed_json(errors: Sequence[Any]) -> bool:
    return any(error.get("type") == "json_invalid" for error in errors)


def _body_not_an_object(errors: Sequence[Any]) -> bool:
    """FastAPI's complaint when a body arrives that was not parsed as JSON."""
    return any(tuple(error.get("loc", ())) == ("body",) for error in errors)


async def _problem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.detail,
        instance=request.url.path,
        kind=exc.kind,
        extra=exc.extra,
        headers=exc.headers,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _title(exc.status_code)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no resource at {request.url.path}"
    return problem_response(
        exc.status_code,
        detail,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if is_malformed_json(errors):
        return problem_response(
            400,
            "request body is not valid JSON",
            instance=request.url.path,
            kind="malformed-json",
        )
    content_type = request.headers.get("content-type", "")
    body_sent = request.headers.get("content-length", "0") != "0"
    if body_sent and "json" not in content_type and _body_not_an_object(errors):
        return problem_response(
            415,
            "send the request body as JSON with 'Content-Type: application/json'",
            instance=request.url.path,
            kind="unsupported-media-type",
        )
    described = describe_validation_errors(errors)
    summary = "; ".join(f"{item['field']}: {item['message']}" for item in described)
    return problem_response(
        422,
        f"the request is invalid: {summary}",
        instance=request.url.path,
        kind="validation",
        extra={"errors": described},
    )


DATABASE_RETRY_AFTER_SECONDS = 2


async def _connection_error(request: Request, exc: Exception) -> JSONResponse:
    """A 503 the client may retry when Postgres is out of reach; any other error of these
    types is a 500. Nothing the request asked for was accepted (a decision whose statement
    broke off is either recorded, and a retry answers 409, or not)."""
    if not database_unreachable(exc):
        return await _unhandled_error(request, exc)
    logger.warning(
        "database unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return database_unavailable_response(request)


def database_unavailable_response(request: Request) -> JSONResponse:
    return problem_response(
        503,
        f"the database is unreachable; retry in {DATABASE_RETRY_AFTER_SECONDS} seconds",
        instance=request.url.path,
        kind="database-unavailable",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "internal error", instance=request.url.path)


# --- documented shapes (OpenAPI) ---------------------------------------------------------


class Problem(BaseModel):
    """RFC 9457 problem details, served as `application/problem+json`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "task 0b8f6c1e-4f7a-4c59-9d1e-3a1f2b7c9d10 not found",
                    "instance": "/v1/tasks/0b8f6c1e-4f7a-4c59-9d1e-3a1f2b7c9d10",
                }
            ]
        },
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class FieldError(BaseModel):
    field: str = Field(description="Where: `body.input`, `query.limit`, `header.Idempotency-Key`.")
    message: str
    type: str = Field(description="Machine-readable kind of error, e.g. `missing`.")


class ValidationProblem(Problem):
    """A 422: the request is well-formed JSON but some fields are wrong."""

    errors: list[FieldError] = Field(default_factory=list, description="One entry per bad field.")


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers (served as application/problem+json; see app.py)."""
    return {
        code: {
            "model": ValidationProblem if code == 422 else Problem,
            "description": HTTPStatus(code).phrase,
        }
        for code in codes
    }


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for connection_error in (DBAPIError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(connection_error, _connection_error)
    app.add_exception_handler(Exception, _unhandled_error)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
