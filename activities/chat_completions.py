"""One chat completion through the LiteLLM proxy, with its failures sorted for Temporal: a
request the gateway refuses is not retried, anything else is. Each failure is one short sentence
with no chained exception: Temporal keeps a retried attempt's failure only up to 4 KiB
(`limit.mutableStateActivityFailureSize.error`), and httpx's chain of tracebacks is larger, so
the reason would read "Failure exceeds size limit." instead; the chain goes to the worker's log.

Its cost comes from the proxy (`x-litellm-response-cost`: LiteLLM's price map for hosted
models, the prices in a group's `litellm_params` for self-hosted ones) and is put in the
reply's `usage` as `cost_usd` (None when the proxy does not know it)."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.contracts.model_turns import MODEL_REQUEST_REJECTED

# Statuses that will not get better by asking again: bad request, auth, unknown model.
REJECTED_STATUSES = {400, 401, 403, 404, 422}


async def complete_chat(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """`http` is pointed at the proxy and carries its key."""
    try:
        response = await http.post("/v1/chat/completions", json=body)
    except httpx.TimeoutException as exc:
        _log(exc)
        raise ApplicationError(f"model gateway timed out: {type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        _log(exc)
        raise ApplicationError(f"model gateway unreachable: {type(exc).__name__}") from None
    if response.status_code in REJECTED_STATUSES:
        raise ApplicationError(
            f"model gateway rejected the request ({response.status_code}): {_error_text(response)}",
            type=MODEL_REQUEST_REJECTED,
            non_retryable=True,
        )
    if response.status_code >= 400:
        raise ApplicationError(
            f"model gateway failed ({response.status_code}): {_error_text(response)}"
        )
    try:
        data: dict[str, Any] = response.json()
    except ValueError:
        raise ApplicationError(
            f"model gateway answered malformed JSON ({response.status_code})"
        ) from None
    if not _has_message(data):
        raise ApplicationError(f"model gateway answered no message ({response.status_code})")
    usage = data.get("usage")
    if isinstance(usage, dict):
        usage["cost_usd"] = _cost(response)
    return data


def _has_message(data: Any) -> bool:
    """A chat completion whose first choice holds a message, as every reader of it expects."""
    try:
        return isinstance(data["choices"][0]["message"], dict)
    except (TypeError, KeyError, IndexError):
        return False


def _log(exc: httpx.HTTPError) -> None:
    if activity.in_activity():
        activity.logger.warning("model gateway call failed: %r", exc, exc_info=exc)


def _cost(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["x-litellm-response-cost"])
    except (KeyError, ValueError):
        return None


def _error_text(response: httpx.Response) -> str:
    """The proxy's own message, short; never our request (it may hold user data)."""
    try:
        error = response.json().get("error", {})
        text = error.get("message") if isinstance(error, dict) else str(error)
    except ValueError:
        text = response.text
    return (text or "")[:300]
