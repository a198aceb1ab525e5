"""A task's event log read as OpenAI Responses output: one turn per request (the submit, then
each follow-up message), each with its output items in order and its usage.

Items come from stored events only, in event order, so the list only ever grows at its end:
what GET /v1/responses/{id} shows and what the stream sends, numbered, are the same at any
moment and on any gateway replica.
- a model turn that asks for tools: one `function_call` per call;
- a tool's result (a `delegate` call's too): its `function_call_output`;
- a call held for a person: an `mcp_approval_request` (its id is the approval's);
- a model turn that answers: a `message` with the text as `output_text`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from activities.db.models import Approval, TaskEvent

SERVER_LABEL = "agentry"  # the `server_label` of approval requests: the tools are Agentry's


@dataclass
class Turn:
    """One request's share of the task: from its message (None: the submit) until the next."""

    message_id: int | None
    items: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    answered: bool = False  # a model turn answered (no more calls)
    waiting_for: list[str] = field(default_factory=list)  # approval ids not yet decided

    def usage(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.input_tokens + self.output_tokens,
        }


def read_turns(events: list[TaskEvent], approvals: list[Approval]) -> list[Turn]:
    """The task's turns, oldest first; the first is the submit's."""
    by_id = {str(approval.id): approval for approval in approvals}
    turns = [Turn(message_id=None)]
    for event in events:
        data = event.data or {}
        turn = turns[-1]
        if event.type == "message":
            turns.append(Turn(message_id=int(data.get("message_id", 0))))
        elif event.type in ("llm_call", "first_calls", "joined_answer"):
            _model_turn(turn, event, data)
        elif event.type in ("tool_call", "delegation"):
            turn.items.append(
                {
                    "type": "function_call_output",
                    "id": f"fco_{event.id}",
                    "call_id": str(data.get("call_id", "")),
                    "output": str(data.get("result", "")),
                    "status": "completed",
                }
            )
        elif event.type == "approval":
            _approval(turn, data, by_id)
    return turns


def _model_turn(turn: Turn, event: TaskEvent, data: dict[str, Any]) -> None:
    turn.input_tokens += int(data.get("prompt_tokens") or 0)
    turn.output_tokens += int(data.get("completion_tokens") or 0)
    turn.cached_tokens += int(data.get("cached_tokens") or 0)
    calls = data.get("calls")
    if calls is None:  # events from before calls were recorded: names only
        calls = [{"id": f"call-{event.id}-{i}", "name": n, "arguments": {}}
                 for i, n in enumerate(data.get("tool_calls") or [])]  # fmt: skip
    for index, call in enumerate(calls):
        turn.items.append(
            {
                "type": "function_call",
                "id": f"fc_{event.id}_{index}",
                "call_id": str(call.get("id", "")),
                "name": str(call.get("name", "")),
                "arguments": json.dumps(call.get("arguments") or {}, ensure_ascii=False),
                "status": "completed",
            }
        )
    text = data.get("final_text")
    if not calls and text is not None:
        turn.answered = True
        turn.items.append(message_item(f"msg_{event.id}", str(text)))


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": status,
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _approval(turn: Turn, data: dict[str, Any], by_id: dict[str, Approval]) -> None:
    approval_id = str(data.get("approval_id", ""))
    if data.get("state") == "escalated":  # still waits, for someone else
        return
    if data.get("state") != "requested":
        if approval_id in turn.waiting_for:
            turn.waiting_for.remove(approval_id)
        return
    approval = by_id.get(approval_id)
    arguments = approval.arguments if approval is not None else {}
    turn.items.append(
        {
            "type": "mcp_approval_request",
            "id": approval_id,
            "name": str(data.get("tool", "")),
            "arguments": json.dumps(arguments, ensure_ascii=False),
            "server_label": SERVER_LABEL,
        }
    )
    turn.waiting_for.append(approval_id)
