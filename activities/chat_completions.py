"""One chat completion through the LiteLLM proxy, with its failures sorted for Temporal: a
request the gateway refuses is not retried, anything else is. Each failure is one short sentence
with no chained exception: Temporal keeps a retried attempt's failure only up to 4 KiB
(`limit.mutableStateActivityFailureSize.error`), and httpx's chain of tracebacks is larger, so
the reason would read "Failure exceeds size limit." instead; the chain goes to the worker's log.

Given a `TextSink`, the completion is streamed (`stream: true`, usage in the last chunk) and
the reply's text goes to the sink as it arrives (cleaned as the stored reply is); the chunks
are assembled into the same completion a non-streamed call returns (chat_streams.py).

Its cost comes from the proxy (LiteLLM's price map for hosted models, the prices in a group's
`litellm_params` for self-hosted ones) and is put in the reply's `usage` as `cost_usd` (None
when the proxy does not know it): the `x-litellm-response-cost` header of a non-streamed
answer, or, streamed, the `cost` LiteLLM adds to the last chunk's usage (it sends no such
header with a stream: its headers leave before the cost is known)."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.chat_streams import ChunkAssembler, StreamFailed, StreamProblem, reported_cost
from activities.model_replies import clean_text
from workflows.contracts.model_turns import MODEL_REPEATING, MODEL_REQUEST_REJECTED

# Statuses that will not get better by asking again: bad request, auth, unknown model.
REJECTED_STATUSES = {400, 401, 403, 404, 422}
PATH = "/v1/chat/completions"
_REPEATING = "repeating the same chunk"  # LiteLLM's error for a stream stuck in a loop
REPEAT_PENALTY = 0.5  # the frequency penalty of the one retry of such a reply


class TextSink(Protocol):
    """Where a streamed reply's text goes as it comes; neither may fail or block the call."""

    def write(self, text: str) -> None: ...

    async def finish(self) -> None: ...


async def complete_chat(
    http: httpx.AsyncClient, body: dict[str, Any], deltas: TextSink | None = None
) -> dict[str, Any]:
    """`http` is pointed at the proxy and carries its key; with `deltas`, streamed."""
    if deltas is not None:
        try:
            try:
                return await _streamed(http, body, deltas)
            except ApplicationError as exc:
                if exc.type != MODEL_REPEATING:
                    raise
            # a model stuck in a loop at temperature 0 loops again on every retry: once more
            # with a frequency penalty, which breaks it (the stream shows the cut-off try first)
            try:
                return await _streamed(http, {**body, "frequency_penalty": REPEAT_PENALTY}, deltas)
            except ApplicationError as exc:
                if exc.type != MODEL_REPEATING:
                    raise
                raise ApplicationError(
                    f"{exc.message}; asked again with a frequency penalty, it repeated itself "
                    "again",
                    type=MODEL_REPEATING,
                    non_retryable=True,
                ) from None
        finally:
            await deltas.finish()
    try:
        response = await http.post(PATH, json=body)
    except httpx.HTTPError as exc:
        raise _unreachable(exc) from None
    _check_status(response)
    return _completion_of(response)


async def _streamed(
    http: httpx.AsyncClient, body: dict[str, Any], deltas: TextSink
) -> dict[str, Any]:
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    reply = ChunkAssembler()
    try:
        async with http.stream("POST", PATH, json=body) as response:
            if response.status_code >= 400 or "event-stream" not in response.headers.get(
                "content-type", ""
            ):  # an error, or a proxy that answered in one piece
                await response.aread()
                _check_status(response)
                return _completion_of(response)
            async for line in response.aiter_lines():
                if line.startswith("data:") and (text := reply.add_line(line[5:].strip())):
                    deltas.write(clean_text(text))
    except httpx.HTTPError as exc:
        raise _unreachable(exc) from None
    except StreamProblem as exc:
        raise ApplicationError(f"model gateway answered {exc} ({response.status_code})") from None
    except StreamFailed as exc:
        raise _failed(exc.status, exc.message) from None
    if not reply.done and reply.finish_reason is None:
        raise ApplicationError(f"model gateway's stream was cut off ({response.status_code})")
    if reply.empty:
        raise ApplicationError(f"model gateway answered no message ({response.status_code})")
    data = reply.completion()
    usage = data.get("usage")
    if isinstance(usage, dict):  # the stream's own figure, made once it ended, before a header
        reported = reported_cost(usage)
        usage["cost_usd"] = reported if reported is not None else _cost(response)
    return data


def _unreachable(exc: httpx.HTTPError) -> ApplicationError:
    if activity.in_activity():
        activity.logger.warning("model gateway call failed: %r", exc, exc_info=exc)
    if isinstance(exc, httpx.TimeoutException):
        return ApplicationError(f"model gateway timed out: {type(exc).__name__}")
    return ApplicationError(f"model gateway unreachable: {type(exc).__name__}")


def _check_status(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise _failed(response.status_code, _error_text(response))


def _failed(status: int, text: str) -> ApplicationError:
    if _REPEATING in text:  # LiteLLM cut a stream whose last chunks were all the same
        return ApplicationError(
            f"model gateway failed ({status}): the model kept repeating itself: {text}",
            type=MODEL_REPEATING,
        )
    if status in REJECTED_STATUSES:
        return ApplicationError(
            f"model gateway rejected the request ({status}): {text}",
            type=MODEL_REQUEST_REJECTED,
            non_retryable=True,
        )
    return ApplicationError(f"model gateway failed ({status}): {text}")


def _completion_of(response: httpx.Response) -> dict[str, Any]:
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
