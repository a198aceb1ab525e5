"""What tasks used and cost, grouped (GET /v1/usage)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class UsageGroup(BaseModel):
    key: str = Field(description="The tenant's name, the agent, the model group or the day.")
    tasks: int
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    tool_calls: int = Field(description="0 per model: tool calls belong to no model.")
    human_wait_ms: int = Field(description="Time approvals waited for a decision; 0 per model.")
    tasks_succeeded: int = Field(description="Of the tasks, those that succeeded; 0 per model.")
    cost_per_succeeded_task_usd: float | None = Field(
        default=None,
        description="The cost of all the tasks (failed ones too) over those that succeeded: "
        "what a finished piece of work costs; null per model and when none succeeded.",
    )


class UsageReport(BaseModel):
    group_by: str
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    items: list[UsageGroup]
    total_cost_usd: float

    model_config = {"populate_by_name": True}


class SpendReport(BaseModel):
    """A tenant's spend this calendar month (UTC) against its monthly limit."""

    tenant: str
    month: str = Field(description="The month's first day, e.g. 2026-12-01.")
    limit_usd: float | None = Field(description="None: no limit.")
    spent_usd: float = Field(description="What the month's recorded model calls cost.")
    reserved_usd: float = Field(description="The worst case of model calls in flight.")
    remaining_usd: float | None = Field(description="What new calls may still reserve.")


class SpendLimitChange(BaseModel):
    tenant: str = Field(min_length=1, max_length=200)
    monthly_limit_usd: float | None = Field(
        gt=0, le=1e9, description="US dollars per calendar month (UTC); null removes the limit."
    )
