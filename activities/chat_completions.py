"""One chat completion through the LiteLLM proxy, with its failures sorted for Temporal: a
request the gateway refuses is not retried, anything else is.

Its cost comes from the proxy (`x-litellm-response-cost`: LiteLLM's price map for hosted
models, the prices in a group's `litellm_params` for self-hosted ones) and is put in the
reply's `usage` as `cost_usd` (None when the proxy does not know it)."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

from workflows.contracts.model_turns import MODEL_REQUEST_REJECTED

# Statuses that will not get better by asking again: bad request, auth, unknown model.
REJECTED_STATUSES = {400, 401, 403, 404, 422}


async def complete_chat(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """`http` is pointed at the proxy and carries its key."""
    try:
        response = await http.post("/v1/chat/completions", json=body)
    except httpx.HTTPError as exc:
        raise ApplicationError(f"model gateway unreachable: {type(exc).__name__}") from exc
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
    data: dict[str, Any] = response.json()
    usage = data.get("usage")
    if isinstance(usage, dict):
        usage["cost_usd"] = _cost(response)
    return data


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
