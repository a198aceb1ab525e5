"""A task as an OpenAI Responses `response` object. The submit's response has the task's id
(GET /v1/tasks/{id} takes it too); a follow-up's is `<task id>.<message id>`. A response's
status is its turn's: earlier turns are `completed`; the last one follows the task."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from activities.db.models import Task
from services.gateway.response_items import Turn
from workflows.contracts.budgets import BUDGET_EXCEEDED
from workflows.contracts.tasks import TaskStatus

MODEL_PREFIX = "agentry/"
_RESPONSE_ID = re.compile(r"^([0-9a-fA-F-]{36})(?:\.([0-9]{1,18}))?$")
_BUDGET_NAME = re.compile(r"budget (\w+) reached")
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "incomplete"})


@dataclass(frozen=True)
class ResponseRef:
    task_id: uuid.UUID
    message_id: int | None  # None: the submit's turn


def parse_response_id(value: str) -> ResponseRef | None:
    match = _RESPONSE_ID.fullmatch(value)
    if match is None:
        return None
    try:
        task_id = uuid.UUID(match.group(1))
    except ValueError:
        return None
    message_id = int(match.group(2)) if match.group(2) else None
    return ResponseRef(task_id, message_id)


def response_id(task: Task, turn: Turn) -> str:
    return str(task.id) if turn.message_id is None else f"{task.id}.{turn.message_id}"


def turn_index(turns: list[Turn], ref: ResponseRef) -> int | None:
    for index, turn in enumerate(turns):
        if turn.message_id == ref.message_id:
            return index
    return None


def turn_status(task: Task, turns: list[Turn], index: int) -> str:
    """`queued`, `in_progress`, `completed`, `failed`, `cancelled` or `incomplete` (a budget
    stopped the task)."""
    if index < len(turns) - 1:
        return "completed"
    status = TaskStatus(task.status)
    if status is TaskStatus.queued:
        return "queued"
    if status is TaskStatus.succeeded:
        return "completed"
    if status is TaskStatus.cancelled:
        return "cancelled"
    if status is TaskStatus.failed:
        return "incomplete" if task.error_code == BUDGET_EXCEEDED else "failed"
    if status is TaskStatus.waiting_input and turns[index].answered:
        return "completed"
    return "in_progress"


def response_object(
    task: Task, turns: list[Turn], index: int, *, status: str | None = None
) -> dict[str, Any]:
    turn = turns[index]
    status = status or turn_status(task, turns, index)
    error = None
    if status == "failed":
        error = {"code": task.error_code or "server_error", "message": task.error or ""}
    incomplete = None
    if status == "incomplete":
        found = _BUDGET_NAME.search(task.error or "")
        budget = found.group(1) if found else "budget"
        reason = "max_output_tokens" if budget == "max_tokens" else budget
        incomplete = {"reason": reason, "message": task.error or ""}
    previous = None
    if index > 0:
        previous = response_id(task, turns[index - 1])
    budgets = task.budgets or {}
    return {
        "id": response_id(task, turn),
        "object": "response",
        "created_at": int(task.created_at.timestamp()),
        "status": status,
        "background": True,
        "model": MODEL_PREFIX + task.agent,
        "output": turn.items,
        "usage": turn.usage(),
        "error": error,
        "incomplete_details": incomplete,
        "instructions": None,
        "metadata": {str(k): str(v) for k, v in (task.task_metadata or {}).items()},
        "max_output_tokens": budgets.get("max_tokens"),
        "max_tool_calls": budgets.get("max_tool_calls"),
        "previous_response_id": previous,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": None,
        "top_p": None,
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
    }
