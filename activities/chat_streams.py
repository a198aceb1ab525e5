"""A streamed chat completion (OpenAI `chat.completion.chunk` events, as the LiteLLM proxy
passes them on) assembled into the one `chat.completion` every reader of a reply expects:
the message's content, its tool calls with their arguments joined by index, the finish
reason, and the usage of the last chunk (`stream_options.include_usage`), cost included.

Pure: fed the `data:` lines of the stream one at a time, it hands back the text each adds, so
the caller can show it as it comes. What is not a chat completion fails as the proxy's
non-streamed answers do (chat_completions.py): one short sentence."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DONE = "[DONE]"


class StreamProblem(Exception):
    """The stream is not a chat completion; the message says how, in a few words."""


class StreamFailed(Exception):
    """The proxy reported an error inside a stream it had begun with 200."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class _ToolCall:
    id: str | None = None
    type: str = "function"
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class ChunkAssembler:
    """Fed one chunk after another with `add`; `completion()` once the stream has ended."""

    content: list[str] = field(default_factory=list)
    role: str | None = None
    tool_calls: dict[int, _ToolCall] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    head: dict[str, Any] = field(default_factory=dict)  # id, created, model of the first chunk
    done: bool = False
    chunks: int = 0

    def add_line(self, data: str) -> str:
        """One SSE `data:` payload; returns the text it adds to the reply ("" for none)."""
        if data.strip() == DONE:
            self.done = True
            return ""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise StreamProblem("malformed JSON") from None
        return self.add(chunk)

    def add(self, chunk: Any) -> str:
        if not isinstance(chunk, dict):
            raise StreamProblem("malformed JSON")
        if "error" in chunk:
            raise StreamFailed(*_error_of(chunk["error"]))
        self.chunks += 1
        if not self.head:
            self.head = {k: chunk[k] for k in ("id", "created", "model") if k in chunk}
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if choices is None or choices == []:
            return ""  # the usage chunk has none
        if not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise StreamProblem("no message")
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        delta = choice.get("delta")
        if delta is None:
            return ""
        if not isinstance(delta, dict):
            raise StreamProblem("no message")
        if isinstance(delta.get("role"), str):
            self.role = delta["role"]
        for call in delta.get("tool_calls") or []:
            self._add_call(call)
        text = delta.get("content")
        if isinstance(text, str) and text:
            self.content.append(text)
            return text
        return ""

    def _add_call(self, call: Any) -> None:
        if not isinstance(call, dict):
            raise StreamProblem("no message")
        index = call.get("index", len(self.tool_calls))
        if not isinstance(index, int):
            raise StreamProblem("no message")
        known = self.tool_calls.setdefault(index, _ToolCall())
        if isinstance(call.get("id"), str) and call["id"]:
            known.id = call["id"]
        if isinstance(call.get("type"), str):
            known.type = call["type"]
        function = call.get("function") or {}
        if not isinstance(function, dict):
            raise StreamProblem("no message")
        if isinstance(function.get("name"), str):
            known.name += function["name"]
        if isinstance(function.get("arguments"), str):
            known.arguments.append(function["arguments"])

    @property
    def empty(self) -> bool:
        """Nothing a reply is made of: no text, no call, no usage (what LiteLLM sends on when
        the server's answer was not a stream it could read)."""
        return not self.content and not self.tool_calls and self.usage is None

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": self.role or "assistant",
            "content": "".join(self.content) if self.content else None,
        }
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": call.id, "type": call.type,
                 "function": {"name": call.name, "arguments": "".join(call.arguments)}}
                for _, call in sorted(self.tool_calls.items())
            ]  # fmt: skip
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason}
        reply: dict[str, Any] = {**self.head, "object": "chat.completion", "choices": [choice]}
        if self.usage is not None:
            reply["usage"] = dict(self.usage)
        return reply


def reported_cost(usage: dict[str, Any] | None) -> float | None:
    """The cost LiteLLM puts in a stream's usage (`usage.cost`: a number, or a breakdown with
    `total_cost`), None when it reports none."""
    cost = (usage or {}).get("cost")
    if isinstance(cost, dict):
        cost = cost.get("total_cost")
    if isinstance(cost, bool) or not isinstance(cost, int | float):
        return None
    return float(cost)


def _error_of(error: Any) -> tuple[int, str]:
    if not isinstance(error, dict):
        return 200, str(error)[:300]
    try:
        status = int(error.get("code") or 200)
    except (TypeError, ValueError):
        status = 200
    return status, str(error.get("message") or "")[:300]
