"""Errors on the OpenAI-shaped doors (/v1/responses, /v1/chat/completions) in OpenAI's shape,
`{"error": {"message", "type", "code", "param"}}`, with the status codes the rest of the API
uses; errors.py answers with this on those paths instead of problem+json."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field

# the OpenAI-shaped doors answer errors as OpenAI does, with the rest of the API's status codes
OPENAI_PATHS = ("/v1/responses", "/v1/chat/completions")
_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    429: "rate_limit_error",
}


def openai_error(
    status: int,
    detail: str | None,
    *,
    kind: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`{"error": {"message", "type", "code", "param"}}`: `param` is the first field a
    validation error names (`input`, `model`, …)."""
    param = None
    errors = (extra or {}).get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        field = str(errors[0].get("field", ""))
        param = field.removeprefix("body.").removeprefix("query.") or None
    if status >= 500:
        kind_of = "server_error"
    else:
        kind_of = _OPENAI_TYPES.get(status, "invalid_request_error")
    message = detail or HTTPStatus(status).phrase
    return {"error": {"message": message, "type": kind_of, "code": kind, "param": param}}


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="`invalid_request_error`, `authentication_error`, …")
    code: str | None = Field(description="What went wrong, as the API's problem types name it.")
    param: str | None = Field(description="The request field at fault, when one is.")


class OpenAIError(BaseModel):
    """An error on the OpenAI-shaped routes."""

    error: OpenAIErrorDetail


def openai_error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the OpenAI-shaped routes' error answers (application/json)."""
    return {code: {"model": OpenAIError, "description": HTTPStatus(code).phrase} for code in codes}
