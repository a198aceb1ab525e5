"""One Langfuse observation per step, made from what the step recorded (the same event data
GET /v1/tasks/{id}/trace is built from). Pure functions: no I/O, no clock of their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from activities.db.models import Approval, Task
from activities.langfuse_export.ids import (
    delegation_observation_id,
    observation_id,
    task_observation_id,
)
from workflows.contracts.delegation import DELEGATE_TOOL, CloseChildRequest
from workflows.contracts.memory import SummarizeRequest
from workflows.contracts.model_turns import ModelTurnRequest
from workflows.contracts.tool_calls import ToolCallRequest

Kind = Literal["agent", "generation", "tool", "span"]
MAX_TEXT = 100_000  # characters of one exported text (a tool result may hold 1M)
MS = 1_000_000  # nanoseconds


@dataclass
class Observation:
    task_id: str  # whose task span it hangs under (the task span itself: its own task)
    id: str
    name: str
    kind: Kind
    start_ns: int
    end_ns: int
    input: Any = None
    output: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    level: Literal["DEFAULT", "WARNING", "ERROR"] = "DEFAULT"
    status_message: str | None = None
    model: str | None = None
    model_parameters: dict[str, Any] | None = None
    usage: dict[str, int] | None = None
    cost: dict[str, float] | None = None
    is_task: bool = False  # the span of a whole task: its parent is the delegating call


def model_call(
    request: ModelTurnRequest, event: dict[str, Any], output: dict[str, Any], ended_ns: int
) -> Observation:
    """A generation: the model group, the reply as recorded, tokens and LiteLLM's cost; its
    input (the prompt) is filled in by whoever can read the transcript."""
    usage = _usage(event)
    if event.get("cached_tokens"):
        usage["input_cached_tokens"] = int(event["cached_tokens"])
    cost = event.get("cost_usd")
    problems = event.get("problems") or []
    return Observation(
        task_id=request.task_id,
        id=observation_id(request.task_id, f"model:{request.iteration}"),
        name=f"model turn {request.iteration}",
        kind="generation",
        start_ns=ended_ns - int(event.get("duration_ms") or 0) * MS,
        end_ns=ended_ns,
        output=output,
        metadata=_some(
            iteration=request.iteration,
            served_by=event.get("served_by"),
            counted_prompt_tokens=event.get("counted_prompt_tokens"),
            tool_calls=event.get("tool_calls") or None,
            problems=problems or None,
            invalid_calls=event.get("invalid_calls") or None,
        ),
        level="WARNING" if problems else "DEFAULT",
        model=str(event.get("model") or request.model),
        model_parameters=_some(temperature=request.temperature, max_tokens=request.max_tokens),
        usage=usage,
        cost=None if cost is None else {"total": float(cost)},
    )


def tool_call(
    request: ToolCallRequest, event: dict[str, Any], result: str, is_error: bool, ended_ns: int
) -> Observation:
    """A tool span: the arguments it ran with, its result (an error is an ERROR level)."""
    call = request.call
    return Observation(
        task_id=request.task_id,
        id=observation_id(request.task_id, f"tool:{request.iteration}:{call.id}"),
        name=call.name,
        kind="tool",
        start_ns=ended_ns - int(event.get("duration_ms") or 0) * MS,
        end_ns=ended_ns,
        input=call.arguments,
        output=clip(result),
        metadata=_some(
            iteration=request.iteration,
            call_id=call.id,
            attempt=event.get("attempt"),
            cost_usd=event.get("cost_usd") or None,
            ignored_arguments=event.get("ignored_arguments") or None,
            rejected=request.rejection is not None or None,
        ),
        level="ERROR" if is_error else "DEFAULT",
        status_message=clip(result, 500) if is_error else None,
    )


def summary(
    request: SummarizeRequest, event: dict[str, Any], content: str, ended_ns: int
) -> Observation:
    """A generation for the summariser's calls together: older turns became one message."""
    cost = event.get("cost_usd")
    return Observation(
        task_id=request.task_id,
        id=observation_id(request.task_id, f"summary:{request.iteration}"),
        name="summary",
        kind="generation",
        start_ns=ended_ns - int(event.get("duration_ms") or 0) * MS,
        end_ns=ended_ns,
        input={"replaced_messages": event.get("replaced"), "tokens_before": request.tokens_before},
        output=clip(content),
        metadata=_some(
            iteration=request.iteration,
            tokens_after=event.get("tokens_after"),
            tokens_saved=event.get("tokens_saved"),
            summarizer_calls=event.get("summarizer_calls"),
            rejected=event.get("rejected") or None,
        ),
        model=str(event.get("model") or request.memory.model),
        usage=_usage(event),
        cost=None if cost is None else {"total": float(cost)},
    )


def approval(row: Approval, ended_ns: int) -> Observation:
    """The wait for a human, from the request to the decision (or the deadline)."""
    end = _ns(row.decided_at) if row.decided_at is not None else ended_ns
    refused = row.status in ("rejected", "timed_out")
    return Observation(
        task_id=str(row.task_id),
        id=observation_id(str(row.task_id), f"approval:{row.id}"),
        name=f"approval {row.tool}",
        kind="span",
        start_ns=_ns(row.created_at),
        end_ns=max(end, _ns(row.created_at)),
        input={"tool": row.tool, "arguments": row.arguments, "reason": row.reason},
        output=_some(
            status=row.status,
            decision=row.decision,
            by=row.decided_by_name,
            comment=row.comment,
            arguments=row.decided_arguments,
        ),
        metadata=_some(
            approval_id=str(row.id),
            iteration=row.iteration,
            call_id=row.call_id,
            waited_ms=(end - _ns(row.created_at)) // MS,
            deadline_at=row.deadline_at.isoformat(),
            escalated_at=row.escalated_at.isoformat() if row.escalated_at else None,
        ),
        level="WARNING" if refused else "DEFAULT",
    )


def delegation(
    request: CloseChildRequest, result: str, child: Task | None, ended_ns: int
) -> Observation:
    """The `delegate` call; the sub-agent's task span hangs under it."""
    is_error = request.error is not None
    child_id = request.child_task_id
    step = f"tool:{request.iteration}:{request.call_id}"
    return Observation(
        task_id=request.parent_task_id,
        id=(
            delegation_observation_id(child_id)
            if child_id
            else observation_id(request.parent_task_id, step)
        ),
        name=f"{DELEGATE_TOOL} {request.agent}",
        kind="agent",
        start_ns=_ns(child.created_at) if child is not None else ended_ns,
        end_ns=ended_ns,
        input=_some(agent=request.agent, instructions=child.input if child else None),
        output=clip(result),
        metadata=_some(
            iteration=request.iteration,
            call_id=request.call_id,
            child_task_id=child_id,
            status=request.status.value if request.status else None,
        ),
        level="ERROR" if is_error else "DEFAULT",
        status_message=clip(result, 500) if is_error else None,
    )


def task(row: Task, now_ns: int) -> Observation:
    """The whole task: its input, and once final its output (or error) and totals."""
    final = row.finished_at is not None
    failed = row.status in ("failed", "cancelled")
    return Observation(
        task_id=str(row.id),
        id=task_observation_id(str(row.id)),
        name=row.agent,
        kind="agent",
        start_ns=_ns(row.created_at),
        end_ns=_ns(row.finished_at) if row.finished_at is not None else now_ns,
        input=clip(row.input),
        output=clip(row.error if failed and row.error else row.output) if final else None,
        metadata=_some(
            task_id=str(row.id),
            agent=row.agent,
            agent_version=row.agent_version,
            skills_used=row.skills_used or None,
            status=row.status,
            error_code=row.error_code,
            parent_task_id=str(row.parent_task_id) if row.parent_task_id else None,
            iterations=row.iterations,
            llm_calls=row.llm_calls,
            tool_calls=row.tool_calls,
            cost_usd=float(row.cost_usd or 0) if final else None,
        ),
        level="ERROR" if failed else "DEFAULT",
        status_message=row.error_code if failed else None,
        is_task=True,
    )


def clip(text: str | None, limit: int = MAX_TEXT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}\n[cut: {len(text) - limit} more characters]"


def _usage(event: dict[str, Any]) -> dict[str, int]:
    """Token counts under Langfuse's usage names."""
    prompt = int(event.get("prompt_tokens") or 0)
    completion = int(event.get("completion_tokens") or 0)
    return {"input": prompt, "output": completion, "total": prompt + completion}


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def _some(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
