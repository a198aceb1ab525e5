"""Pydantic models that cross a boundary: REST ⇄ gateway ⇄ Temporal ⇄ activities.

Every workflow, activity and signal takes one of these and returns one. They carry references
(ids) and small values, never whole transcripts: messages live in Postgres.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class TaskStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.succeeded, TaskStatus.failed, TaskStatus.cancelled)


class ToolCallFormat(StrEnum):
    """How the model expresses tool calls; the agent spec chooses."""

    native = "native"  # OpenAI `tools` + `tool_calls` (SGLang with a tool-call parser)
    text = "text"  # JSON or <tool_call> blocks written in the reply (small models)
    json_schema = "json_schema"  # constrained decoding of an action object


class AgentConfig(BaseModel):
    """The part of an agent spec a running task needs, frozen at submit time."""

    name: str
    pool: str = "default"
    model: str = "agent-default"
    system_prompt: str = ""
    tools: list[str] = Field(default_factory=list)
    tool_call_format: ToolCallFormat = ToolCallFormat.text
    max_iterations: int = 8
    temperature: float = 0.0
    max_tokens: int = 512


class Usage(BaseModel):
    llm_calls: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


# --- workflow ---------------------------------------------------------------------------


class AgentTaskInput(BaseModel):
    task_id: str
    agent: AgentConfig
    # set when the workflow continues as new: where the previous run left off
    message_ids: list[int] = Field(default_factory=list)
    iteration: int = 0


class AgentTaskResult(BaseModel):
    task_id: str
    status: TaskStatus
    output: str | None = None
    error: str | None = None
    iterations: int = 0


# --- activities -------------------------------------------------------------------------


class BeginTaskRequest(BaseModel):
    task_id: str
    system_prompt: str


class BeginTaskResult(BaseModel):
    message_ids: list[int]
    # the task was finished before its workflow began (e.g. cancelled): do nothing more
    final_status: TaskStatus | None = None


class ModelTurnRequest(BaseModel):
    task_id: str
    iteration: int
    model: str
    message_ids: list[int]
    tools: list[str]
    tool_call_format: ToolCallFormat
    temperature: float = 0.0
    max_tokens: int = 512


class ModelTurnResult(BaseModel):
    message_id: int
    tool_calls: list[ToolCall] = Field(default_factory=list)
    final_text: str | None = None  # set when the turn holds no tool call
    # calls that must not run (e.g. arguments that are not JSON): call id → error for the model
    invalid_calls: dict[str, str] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ToolCallRequest(BaseModel):
    task_id: str
    iteration: int
    call: ToolCall
    rejection: str | None = None  # when set, the call is answered with this error, not run


class ToolCallResult(BaseModel):
    message_id: int
    is_error: bool = False


class FinishTaskRequest(BaseModel):
    task_id: str
    status: TaskStatus
    output: str | None = None
    error: str | None = None
    error_code: str | None = None


class FinishTaskResult(BaseModel):
    status: TaskStatus


class MarkRunningRequest(BaseModel):
    task_id: str


class Empty(BaseModel):
    """For calls that need to say nothing."""


EventType = Literal["status", "llm_call", "tool_call"]
