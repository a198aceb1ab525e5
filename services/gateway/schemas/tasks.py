"""Bodies of /v1/tasks: a task (its events: task_events.py; its transcript and follow-ups:
task_messages.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from activities.db.models import Task
from activities.tools.errors import ToolError
from activities.tools.paths import MAX_FILE_BYTES, checked_path
from services.gateway.schemas.examples import EXAMPLE_TASK_ID, EXAMPLE_TIME
from workflows.contracts.budgets import Budgets
from workflows.contracts.skills import SkillUse
from workflows.contracts.tasks import PRIORITY_HIGHEST, PRIORITY_LOWEST, TaskStatus


class BudgetsIn(Budgets):
    model_config = ConfigDict(extra="forbid")

    max_model_calls: int | None = Field(default=None, ge=1, strict=True)
    max_tool_calls_per_turn: int | None = Field(default=None, ge=1, strict=True)
    max_tool_calls: int | None = Field(default=None, ge=1, strict=True)
    max_tokens: int | None = Field(default=None, ge=1, strict=True)
    deadline_seconds: int | None = Field(default=None, ge=1, le=366 * 86_400, strict=True)


class TaskCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "agent": "assistant",
                    "input": "What is 17 * 23?",
                    "metadata": {"ticket": "SUP-1234"},
                    "priority": 2,
                }
            ]
        },
    )

    agent: str = Field(
        min_length=1, max_length=200, description="Name of the agent to run (see GET /v1/agents)."
    )
    input: str = Field(
        min_length=1,
        description="The task for the agent, as text. Limited to the gateway's "
        "`max_input_bytes` (UTF-8 bytes; 64 KiB by default).",
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="Free-form JSON object stored with the task and returned as given; "
        "limited to `max_metadata_bytes` (16 KiB by default).",
    )
    priority: int | None = Field(
        default=None,
        ge=PRIORITY_HIGHEST,
        le=PRIORITY_LOWEST,
        strict=True,
        description="1 (highest) … 5 (lowest): among waiting tasks of a worker pool, higher "
        "priority starts first. Default: the priority of the agent's pool.",
    )

    budgets: BudgetsIn | None = Field(
        default=None,
        description="Limits for this task instead of the agent's defaults; each at most the "
        "tenant's limit. A task that reaches one fails with `error.code` `budget_exceeded`.",
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="A model group of the LiteLLM config for this task's model turns instead "
        "of the agent's `model` (e.g. to replay saved cases on another model); its context "
        "budget applies. Unknown groups are refused (422, listing the known ones).",
    )

    agent_version: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Run this version of the agent's spec instead of the current one (see "
        "GET /v1/agents/{name}); a version that was never recorded, or that can no longer run "
        "here (a tool or model group it names is gone), is refused (422).",
    )
    files: dict[str, str] | None = Field(
        default=None,
        description="Files the task starts with in its workspace: path → UTF-8 text, paths "
        "relative as the file tools take them (`src/app.py`). Each file at most 1 MiB, all "
        "within the workspace quota; read back with GET /v1/tasks/{id}/files.",
        examples=[{"calc.py": "def add(a, b):\n    return a - b\n"}],
    )

    @field_validator("input")
    @classmethod
    def _input_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain more than whitespace")
        return value

    @field_validator("files")
    @classmethod
    def _files_have_workspace_paths(cls, files: dict[str, str] | None) -> dict[str, str] | None:
        """Normalised as the file tools would write them; what is wrong with a path is named."""
        if not files:
            return None
        normal: dict[str, str] = {}
        for path, content in files.items():
            try:
                shown = checked_path(path)
            except ToolError as exc:
                raise ValueError(f"files: {exc}") from None
            if shown in normal:
                raise ValueError(f"files: {path!r} and another path both name {shown!r}")
            try:
                size = len(content.encode())
            except UnicodeEncodeError:
                raise ValueError(f"files: {shown!r} is not UTF-8 text") from None
            if size > MAX_FILE_BYTES:
                raise ValueError(f"files: {shown!r} is over {MAX_FILE_BYTES} bytes")
            normal[shown] = content
        for path in normal:
            folder = path.rpartition("/")[0]
            while folder:
                if folder in normal:
                    raise ValueError(f"files: {folder!r} is a file and a folder of {path!r}")
                folder = folder.rpartition("/")[0]
        return normal


class TaskCancel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "submitted by mistake"}]}
    )

    reason: str | None = Field(
        default=None, max_length=2000, description="Why the task is cancelled; stored with it."
    )


class TaskError(BaseModel):
    code: str | None = Field(description="Machine-readable error code, e.g. `max_iterations`.")
    message: str = Field(description="What went wrong, for people.")


class TaskUsage(BaseModel):
    llm_calls: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    iterations: int = 0
    cost_usd: float = Field(0.0, description="What its model calls cost, sub-agents included.")


class TaskOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_TASK_ID,
                    "agent": "assistant",
                    "status": "succeeded",
                    "priority": 3,
                    "model": "agent-default",
                    "agent_version": 1,
                    "input": "What is 17 * 23?",
                    "metadata": {"ticket": "SUP-1234"},
                    "result": "17 * 23 = 391",
                    "error": None,
                    "cancel_reason": None,
                    "usage": {
                        "llm_calls": 2,
                        "tool_calls": 1,
                        "prompt_tokens": 512,
                        "completion_tokens": 48,
                        "iterations": 2,
                    },
                    "created_at": EXAMPLE_TIME,
                    "started_at": EXAMPLE_TIME,
                    "finished_at": EXAMPLE_TIME,
                    "updated_at": EXAMPLE_TIME,
                }
            ]
        }
    )

    id: uuid.UUID
    agent: str
    status: TaskStatus = Field(
        description="`queued` → `running` (⇄ `waiting_approval` while a tool call waits for "
        "a human, ⇄ `waiting_input` while a conversation waits for the next message) → one "
        "of `succeeded`, `failed`, `cancelled` (final). A task stays `queued` while its "
        "tenant has its cap of tasks running."
    )
    priority: int = Field(description="1 (highest) … 5 (lowest).")
    model: str | None = Field(
        default=None,
        description="The model group the task runs with: its agent's, or the one the submit "
        "named (null: tasks from before this was recorded).",
    )
    agent_version: int | None = Field(
        default=None,
        description="The version of the agent's spec the task runs with: the current one when "
        "it was submitted, or the one the submit pinned (null: tasks from before versions).",
    )
    skills_used: list[SkillUse] = Field(
        default_factory=list,
        description="The skill versions its prompt carries: those its agent's spec lists, and "
        "those chosen for its input (with the chooser's `score`).",
    )
    input: str
    metadata: dict[str, Any]
    result: str | None = Field(description="The agent's final answer once it succeeded.")
    error: TaskError | None = Field(description="Why the task failed, when it did.")
    cancel_reason: str | None
    usage: TaskUsage
    budgets: Budgets | None = Field(
        default=None, description="The limits the task runs under (null: tasks from before)."
    )
    parent_task_id: uuid.UUID | None = Field(
        default=None, description="For a sub-agent's task: the task that delegated to it."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_row(cls, task: Task) -> TaskOut:
        error = None
        if task.error is not None or task.error_code is not None:
            error = TaskError(code=task.error_code, message=task.error or task.error_code or "")
        return cls(
            id=task.id,
            agent=task.agent,
            status=TaskStatus(task.status),
            priority=task.priority,
            model=task.model,
            agent_version=task.agent_version,
            skills_used=[SkillUse.model_validate(use) for use in task.skills_used or []],
            input=task.input,
            metadata=task.task_metadata or {},
            result=task.output,
            error=error,
            cancel_reason=task.cancel_reason,
            usage=TaskUsage(
                llm_calls=task.llm_calls,
                tool_calls=task.tool_calls,
                prompt_tokens=task.prompt_tokens,
                completion_tokens=task.completion_tokens,
                iterations=task.iterations,
                cost_usd=float(task.cost_usd or 0),
            ),
            budgets=Budgets.model_validate(task.budgets) if task.budgets else None,
            parent_task_id=task.parent_task_id,
            created_at=task.created_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
            updated_at=task.updated_at,
        )


class TaskDetail(TaskOut):
    """GET /v1/tasks/{id}: the task, and where to look at it beyond this API."""

    temporal_ui_url: str | None = Field(
        default=None,
        description="The task's workflow in the Temporal UI, when the gateway knows the UI's "
        "address (`AGENTRY_TEMPORAL_UI_URL`, or the embedded stack's own).",
    )


class TaskList(BaseModel):
    items: list[TaskOut] = Field(description="Tasks, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class TaskChildren(BaseModel):
    items: list[TaskOut] = Field(description="Sub-agent tasks, oldest first.")
