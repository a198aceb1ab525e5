"""Test-side helpers for the scripted model server, so tests read as the conversation they expect.

model = ScriptedModel("http://127.0.0.1:18500")
key = unique_key("approve")
await model.script(key, [reply_tool_calls([("send_email", {"to": "a@b.c"})]), reply_text("ok")])
task_input = f"{script_marker(key)} Email a@b.c"
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from tests.fakes.scripted_model import LoadOverride, Reply, ScriptedToolCall

__all__ = [
    "Reply",
    "ScriptedModel",
    "ScriptedToolCall",
    "reply_error",
    "reply_hang",
    "reply_malformed",
    "reply_text",
    "reply_tool_calls",
    "script_marker",
    "unique_key",
]

ToolCallSpec = ScriptedToolCall | tuple[str, Mapping[str, Any]] | Mapping[str, Any]


def script_marker(key: str) -> str:
    """The text to put in the conversation (normally the task input) to select a script."""
    return f"[script:{key}]"


def unique_key(prefix: str = "t") -> str:
    """A key no other concurrently running test will use."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def reply_text(
    content: str,
    *,
    delay_s: float = 0.0,
    chunk_delay_s: float = 0.0,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    finish_reason: str | None = None,
) -> Reply:
    """A plain assistant message (finish_reason "stop" unless given: "length" is a reply cut
    off at max_tokens)."""
    return Reply(
        content=content,
        delay_s=delay_s,
        chunk_delay_s=chunk_delay_s,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finish_reason=finish_reason,
    )


def _tool_call(spec: ToolCallSpec) -> ScriptedToolCall:
    if isinstance(spec, ScriptedToolCall):
        return spec
    if isinstance(spec, tuple):
        name, arguments = spec
        return ScriptedToolCall(name=name, arguments=dict(arguments))
    return ScriptedToolCall.model_validate(dict(spec))


def reply_tool_calls(
    calls: Sequence[ToolCallSpec],
    *,
    content: str | None = None,
    delay_s: float = 0.0,
    chunk_delay_s: float = 0.0,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
) -> Reply:
    """Native tool calls (finish_reason "tool_calls"); each call as (name, args) or a mapping."""
    return Reply(
        content=content,
        tool_calls=[_tool_call(call) for call in calls],
        delay_s=delay_s,
        chunk_delay_s=chunk_delay_s,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


def reply_error(status: int, *, delay_s: float = 0.0) -> Reply:
    """An HTTP error with an OpenAI-style body, e.g. 500 or 429 to exercise retries."""
    return Reply(status=status, delay_s=delay_s)


class ScriptedModel:
    """Control-API client; pass ``transport=httpx.ASGITransport(app)`` to talk in-process."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, transport=transport, timeout=timeout)

    @property
    def api_base(self) -> str:
        """What LiteLLM's ``api_base`` should be for this server."""
        return f"{self.base_url}/v1"

    async def script(
        self, key: str, replies: Sequence[Reply], model_replies: dict[str, Reply] | None = None
    ) -> str:
        """Register (or replace) the replies for ``key``; returns the marker to embed.
        ``model_replies``: requests for that model get that reply, every time."""
        body: dict[str, Any] = {"replies": [r.model_dump(exclude_none=True) for r in replies]}
        if model_replies:
            body["model_replies"] = {
                model: reply.model_dump(exclude_none=True) for model, reply in model_replies.items()
            }
        (await self._http.put(f"/_scripts/{key}", json=body)).raise_for_status()
        return script_marker(key)

    async def requests(self, key: str) -> list[dict[str, Any]]:
        """The chat-completion request bodies the server received for ``key``, in order."""
        response = await self._http.get(f"/_scripts/{key}/requests")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    async def prompts(self, key: str) -> list[dict[str, Any]]:
        """Per completion for ``key``: model, prompt_tokens, cached_tokens (prefix reuse)."""
        response = await self._http.get(f"/_scripts/{key}/prompts")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    async def first_tokens(self, key: str) -> list[float]:
        """When each streamed reply for ``key`` sent its first token (``time.time()``)."""
        response = await self._http.get(f"/_scripts/{key}/first_tokens")
        response.raise_for_status()
        result: list[float] = response.json()
        return result

    async def status(self, key: str) -> dict[str, int]:
        """``{"remaining": n, "served": n}`` for ``key``."""
        response = await self._http.get(f"/_scripts/{key}")
        response.raise_for_status()
        result: dict[str, int] = response.json()
        return result

    async def forget(self, key: str) -> None:
        (await self._http.delete(f"/_scripts/{key}")).raise_for_status()

    async def set_load(
        self,
        *,
        running: int = 0,
        queued: int = 0,
        token_usage: float | None = None,
        model: str | None = None,
    ) -> None:
        """Report extra load on /metrics: server-wide (only in tests that own the server), or
        for one `model` name, seen at /metrics?model=<model> (safe on a shared server)."""
        load = LoadOverride(running=running, queued=queued, token_usage=token_usage)
        params = {"model": model} if model is not None else {}
        response = await self._http.put("/_load", json=load.model_dump(), params=params)
        response.raise_for_status()

    async def metrics_reads(self, model: str | None = None) -> int:
        """How often /metrics (with this `model`, or without one) has been read."""
        params = {"model": model} if model is not None else {}
        response = await self._http.get("/_load", params=params)
        response.raise_for_status()
        return int(response.json()["scrapes"])

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ScriptedModel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def reply_malformed(*, delay_s: float = 0.0) -> Reply:
    """A 200 whose body is cut-off JSON, as a crashing or misbehaving server might send."""
    return Reply(malformed=True, delay_s=delay_s)


HANG_SECONDS = 3600.0


def reply_hang() -> Reply:
    """No answer at all, as a stuck server gives: the request waits until the test forgets the
    script (``ScriptedModel.forget``), or an hour."""
    return Reply(content="answered once forgotten", delay_s=HANG_SECONDS)
