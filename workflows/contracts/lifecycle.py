"""A task's lifecycle in Postgres: it begins (within its tenant's cap), changes status, and
finishes once."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from workflows.contracts.tasks import AdmissionPolicy, TaskStatus

TASK_MISSING = "TaskMissing"
"""Error type: the task's row is gone, so there is nothing to record its steps in."""
DATABASE_UNREACHABLE = "DatabaseUnreachable"
"""Error type: Postgres could not be reached (retried; the worker's log has the details)."""


class BeginTaskRequest(BaseModel):
    task_id: str
    system_prompt: str
    admission: AdmissionPolicy | None = None  # None: begin without asking for a slot


class BeginTaskResult(BaseModel):
    message_ids: list[int]
    # the task was finished before its workflow began (e.g. cancelled): do nothing more
    final_status: TaskStatus | None = None
    # the tenant is at its cap: nothing was begun; ask again after this many seconds
    wait_seconds: float | None = None


class SetStatusRequest(BaseModel):
    task_id: str
    status: TaskStatus
    step_key: str  # unique per change, so a retried activity logs the change once
    output: str | None = None  # the latest answer, while a conversation waits


class FinishTaskRequest(BaseModel):
    task_id: str
    status: TaskStatus
    output: str | None = None
    error: str | None = None
    error_code: str | None = None
    # the figures behind a failure (a budget and what was spent, a runaway's evidence), kept in
    # the final status event
    details: dict[str, Any] | None = None


class FinishTaskResult(BaseModel):
    status: TaskStatus


class Empty(BaseModel):
    """For calls that need to say nothing."""
