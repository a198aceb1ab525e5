"""A tool call the model asked for, and the activity that runs one."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from workflows.contracts.shadow import DryRun


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolCallRequest(BaseModel):
    task_id: str
    iteration: int
    call: ToolCall
    rejection: str | None = None  # when set, the call is answered with this error, not run
    dry_run: DryRun | None = None  # a shadow task's call: answered with a dry-run text, not run


class ToolCallResult(BaseModel):
    message_id: int
    is_error: bool = False
    digest: str = ""  # of the result text: runaway detection tells new results from repeats
