"""A task's trace, built from what its activities recorded: the events (model calls, tool
calls, summaries) in step order, the approvals with how long each waited for a human, and the
traces of its sub-agent tasks. Read-only: nothing here changes a task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.approvals import ApprovalRepository
from activities.db.events import EventRepository
from activities.db.models import Approval, Task
from activities.db.tasks import TaskRepository
from services.gateway.schemas.trace import (
    TaskTrace,
    TraceApproval,
    TraceLlmCall,
    TraceMemoryEvent,
    TraceToolCall,
)
from workflows.contracts.skills import SkillUse

PAGE = 1000


async def build_trace(session: AsyncSession, task: Task) -> TaskTrace:
    llm_calls: list[TraceLlmCall] = []
    tool_calls: list[TraceToolCall] = []
    memory: list[TraceMemoryEvent] = []
    events = EventRepository(session)
    after = None
    while page := await events.list(task.id, after=after, limit=PAGE):
        for event in page:
            data = event.data
            if event.type == "llm_call":
                llm_calls.append(
                    TraceLlmCall(
                        at=event.created_at,
                        iteration=data.get("iteration", 0),
                        model=data.get("model", ""),
                        served_by=data.get("served_by"),
                        prompt_tokens=data.get("prompt_tokens", 0),
                        completion_tokens=data.get("completion_tokens", 0),
                        cached_tokens=data.get("cached_tokens", 0),
                        duration_ms=data.get("duration_ms", 0),
                        tool_calls=data.get("tool_calls") or [],
                        cost_usd=data.get("cost_usd"),
                    )
                )
            elif event.type == "tool_call":
                tool_calls.append(
                    TraceToolCall(
                        at=event.created_at,
                        iteration=data.get("iteration", 0),
                        call_id=data.get("call_id", ""),
                        tool=data.get("name", ""),
                        arguments=data.get("arguments") or {},
                        duration_ms=data.get("duration_ms", 0),
                        result=data.get("result", ""),
                        is_error=bool(data.get("is_error")),
                        attempt=data.get("attempt", 1),
                        cost_usd=data.get("cost_usd") or 0.0,
                    )
                )
            elif event.type == "delegation":  # a `delegate` call: its sub-agent task's answer
                tool_calls.append(
                    TraceToolCall(
                        at=event.created_at,
                        iteration=data.get("iteration", 0),
                        call_id=data.get("call_id", ""),
                        tool="delegate",
                        arguments={"agent": data.get("agent")},
                        duration_ms=0,  # the child's, below
                        result=data.get("result", ""),
                        is_error=bool(data.get("is_error")),
                        child_task_id=data.get("child_task_id"),
                    )
                )
            elif event.type == "memory":
                memory.append(TraceMemoryEvent(at=event.created_at, **_memory_fields(data)))
        after = page[-1].id
    now = datetime.now(UTC)
    approvals = [
        _approval(row, now) for row in await ApprovalRepository(session).list_for_task(task.id)
    ]
    children = [
        await build_trace(session, child)
        for child in await TaskRepository(session).children(task.tenant_id, task.id)
    ]
    child_ms = {child.task_id: child.total_duration_ms for child in children}
    for call in tool_calls:
        if call.child_task_id is not None:
            call.duration_ms = child_ms.get(call.child_task_id, 0)
    total_ms = _ms((task.finished_at or now) - task.created_at)
    human_ms = _ms_of_overlaps([(a.requested_at, a.waited_ms) for a in approvals])
    return TaskTrace(
        agent_id=task.agent,
        task_id=str(task.id),
        spec_version=task.agent_version,
        skills_used=[SkillUse.model_validate(use) for use in task.skills_used or []],
        iterations=task.iterations,
        llm_calls=llm_calls,
        tool_calls=tool_calls,
        memory_events=memory,
        approvals=approvals,
        children=children,
        completion_status=task.status,
        error_code=task.error_code,
        created_at=task.created_at,
        finished_at=task.finished_at,
        total_duration_ms=total_ms,
        human_wait_ms=human_ms,
        working_ms=max(total_ms - human_ms, 0),
        cost_usd=float(task.cost_usd or 0),
    )


def _memory_fields(data: dict[str, Any]) -> dict[str, Any]:
    keys = ("type", "iteration", "tokens_before", "tokens_after", "tokens_saved", "duration_ms")
    fields = {key: data.get(key) for key in keys}
    fields["type"] = fields["type"] or "summarize"
    fields["iteration"] = fields["iteration"] or 0
    return fields


def _approval(row: Approval, now: datetime) -> TraceApproval:
    return TraceApproval(
        requested_at=row.created_at,
        tool=row.tool,
        decision=row.decision,
        status=row.status,
        by=row.decided_by_name,
        waited_ms=_ms((row.decided_at or now) - row.created_at),
    )


def _ms_of_overlaps(waits: list[tuple[datetime, int]]) -> int:
    """Milliseconds during which at least one call waited (calls of one turn wait together)."""
    spans = sorted((start.timestamp() * 1000, start.timestamp() * 1000 + ms) for start, ms in waits)
    total, end = 0.0, float("-inf")
    for start, stop in spans:
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return int(total)


def _ms(delta: timedelta) -> int:
    return max(int(delta.total_seconds() * 1000), 0)
