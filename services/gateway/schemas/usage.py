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


class UsageReport(BaseModel):
    group_by: str
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    items: list[UsageGroup]
    total_cost_usd: float

    model_config = {"populate_by_name": True}
