"""What a request with a body meets first: who is calling, then how big and how deep the body
is, before any of it is parsed.

A stranger's 300 MB upload is answered 401 from its headers alone, a key holder's is answered
413 from its `Content-Length` (or, without one, once the streamed bytes pass the cap), so no
caller can make the gateway hold more than `max_request_bytes` of a body. A JSON body nested
deeper than `MAX_JSON_DEPTH`, or holding text Postgres cannot store (NUL, a lone surrogate),
is a 422 naming the field. The principal found here is handed on in the request's state, so
the route's dependency does not look the key up again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi.security import HTTPAuthorizationCredentials
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activities.db.engine import autocommitting
from activities.db.outages import database_unreachable
from services.gateway.deps import Principal, bearer_key_hash, find_principal, note_key_use
from services.gateway.errors import ProblemError, database_unavailable_response, problem_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
GUARDED_PREFIX = "/v1/"
MAX_JSON_DEPTH = 32


class RequestGuard:
    """ASGI middleware for `/v1/` requests that may carry a body."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = (
            scope["type"] == "http"
            and scope["method"] in BODY_METHODS
            and scope["path"].startswith(GUARDED_PREFIX)
        )
        if not guarded:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            principal = await self._authenticate(request)
            self._check_declared_length(request)
            body = await self._read_body(receive)
            _check_json(body, request.headers.get("content-type", ""))
        except ProblemError as problem:
            response = problem_response(
                problem.status,
                problem.detail,
                instance=scope["path"],
                kind=problem.kind,
                extra=problem.extra,
                headers=problem.headers,
            )
            await response(scope, receive, send)
            return
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            await database_unavailable_response(request)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, _replaying(body, receive), send)

    async def _authenticate(self, request: Request) -> Principal:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        credentials = None
        if scheme.lower() == "bearer" and token.strip():
            credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        key_hash = bearer_key_hash(credentials)
        factory = request.app.state.session_factory
        async with autocommitting(factory) as session:  # one statement: no transaction around it
            principal = await find_principal(session, key_hash)
        await note_key_use(factory, principal)
        return principal

    def _check_declared_length(self, request: Request) -> None:
        declared = request.headers.get("content-length")
        if declared is None:
            return
        if not declared.isdigit():
            raise ProblemError(400, "the Content-Length header is not a number", kind="bad-request")
        if int(declared) > self.max_body_bytes:
            raise self._too_large()

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees an empty body and no one reads it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self) -> ProblemError:
        return ProblemError(
            413,
            f"the request body is larger than {self.max_body_bytes} bytes",
            kind="request-too-large",
            extra={"limit_bytes": self.max_body_bytes},
        )


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _check_json(body: bytes, content_type: str) -> None:
    """Depth and storable text of a JSON body; a body that is not JSON is left to the route,
    which answers it as malformed."""
    if not body or "json" not in content_type.lower():
        return
    try:
        value = json.loads(body)
    except RecursionError:
        raise _invalid("body", f"is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        return
    for field, message in _text_problems(value, "body", 0):
        raise _invalid(field, message)


def _text_problems(value: Any, field: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > MAX_JSON_DEPTH:
        yield field, f"is nested deeper than {MAX_JSON_DEPTH} levels"
    elif isinstance(value, str):
        problem = text_problem(value)
        if problem:
            yield field, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key)
            if problem:
                yield field, f"has a key that {problem}"
            yield from _text_problems(item, f"{field}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _text_problems(item, f"{field}.{index}", depth + 1)


def text_problem(text: str) -> str | None:
    """Why Postgres could not store this text as given (None: it can)."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate (an unpaired \\ud800–\\udfff escape)"
    return None


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        f"the request is invalid: {field}: {message}",
        kind="validation",
        extra={"errors": [{"field": field, "message": message, "type": "value_error"}]},
    )
