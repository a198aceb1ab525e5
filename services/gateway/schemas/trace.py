"""A task's trace: its whole trajectory as one document (GET /v1/tasks/{id}/trace)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from workflows.contracts.skills import SkillUse


class TraceLlmCall(BaseModel):
    at: datetime
    iteration: int
    model: str
    served_by: str | None = None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    duration_ms: int
    tool_calls: list[str] = Field(description="Names of the tools the reply asked for.")
    cost_usd: float | None = Field(None, description="None when the proxy did not price it.")


class TraceToolCall(BaseModel):
    at: datetime
    iteration: int
    call_id: str
    tool: str
    arguments: dict[str, Any]
    duration_ms: int
    result: str = Field(description="The result as the model read it (up to 2,000 characters).")
    is_error: bool
    attempt: int = Field(1, description="The attempt that ran it (more than 1 after a crash).")
    child_task_id: str | None = Field(None, description="A `delegate` call's sub-agent task.")
    cost_usd: float = Field(0.0, description="What the tool declares one call costs.")


class TraceMemoryEvent(BaseModel):
    at: datetime
    type: str
    iteration: int
    tokens_before: int | None = None
    tokens_after: int | None = None
    tokens_saved: int | None = None
    duration_ms: int | None = None


class TraceApproval(BaseModel):
    requested_at: datetime
    tool: str
    decision: str | None = Field(description="approve, reject or edit; None while undecided.")
    status: str
    by: str | None
    waited_ms: int = Field(description="From the request to the decision (or until now).")


class TaskTrace(BaseModel):
    agent_id: str
    task_id: str
    spec_version: int | None = Field(
        None, description="The version of the agent's spec the task ran with."
    )
    skills_used: list[SkillUse] = Field(
        default_factory=list, description="The skill versions its prompt carried."
    )
    iterations: int
    llm_calls: list[TraceLlmCall]
    tool_calls: list[TraceToolCall]
    memory_events: list[TraceMemoryEvent]
    approvals: list[TraceApproval]
    children: list[TaskTrace] = Field(description="Traces of the sub-agent tasks it delegated to.")
    completion_status: str
    error_code: str | None = None
    created_at: datetime
    finished_at: datetime | None
    total_duration_ms: int = Field(description="From submit to the end (or until now).")
    human_wait_ms: int = Field(description="Of the total, the time calls waited for approvers.")
    working_ms: int = Field(description="The total less the human wait.")
    cost_usd: float | None = None
