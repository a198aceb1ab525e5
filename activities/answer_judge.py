"""The `model` answer check: the agent's classify model group reads the request and the final
answer and says whether the answer gives everything the request asks for, and if not, what
is missing. The verdict is held to a JSON schema (SGLang and llama.cpp both enforce it), so a
small model can give it; a verdict that cannot be read lets the answer through, since a broken
judge must never hold a task."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from activities.chat_completions import complete_chat

INSTRUCTIONS = (
    "You check an assistant's answer before it is sent. Say whether the answer gives "
    "everything the request asks for. When it does not, name what is still missing in a few "
    "words. Judge only completeness, not style."
)
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "complete": {"type": "boolean"},
        "missing": {"type": "string", "maxLength": 200},
    },
    "required": ["complete", "missing"],
    "additionalProperties": False,
}
MAX_VERDICT_TOKENS = 96
MAX_TEXT_CHARS = 4000  # of the request and of the answer each: the judge needs the gist


@dataclass(frozen=True)
class Verdict:
    complete: bool
    missing: str
    readable: bool  # False: the reply was not a verdict, and the answer is let through
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float

    def event(self, model: str, iteration: int) -> dict[str, Any]:
        return {
            "iteration": iteration,
            "check": "model",
            "model": model,
            "complete": self.complete,
            "missing": self.missing or None,
            "readable": self.readable,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
        }


async def judge(http: httpx.AsyncClient, model: str, request: str, answer: str) -> Verdict:
    """Ask `model` (a model group behind the proxy `http` points at) for a verdict."""
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS},
            {
                "role": "user",
                "content": f"Request:\n{request[:MAX_TEXT_CHARS]}\n\n"
                f"Answer:\n{answer[:MAX_TEXT_CHARS]}",
            },
        ],
        "temperature": 0.0,
        "max_tokens": MAX_VERDICT_TOKENS,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True},
        },
    }
    reply = await complete_chat(http, body)
    usage = reply.get("usage") or {}
    text = str(reply["choices"][0]["message"].get("content") or "")
    complete, missing, readable = True, "", False
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("complete"), bool):
        complete, readable = value["complete"], True
        missing = " ".join(str(value.get("missing") or "").split())[:200]
    return Verdict(
        complete=complete or not missing.strip(),  # "incomplete, nothing missing" is complete
        missing=missing,
        readable=readable,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cost_usd=float(usage.get("cost_usd") or 0.0),
    )
