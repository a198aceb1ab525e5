"""Guardrails of one task: budgets it may spend, the limits of runaway detection, and what it
has spent so far (carried across continue-as-new)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, Field

BUDGET_EXCEEDED = "budget_exceeded"
"""`error.code` of a task stopped by one of its budgets."""

SPEND_LIMIT = "spend_limit"
"""`error.code` of a task stopped because its tenant's monthly spend limit was reached, and the
error type of the model call that found no room for its worst-case cost."""

RUNAWAY_DETECTED = "runaway_detected"
"""`error.code` of a task stopped because it kept doing the same thing without progress."""

BUDGET_NAMES = (
    "max_model_calls",
    "max_tool_calls_per_turn",
    "max_tool_calls",
    "max_tokens",
    "deadline_seconds",
    "max_cost_usd",
)


class Budgets(BaseModel):
    """Per-task limits; None: no limit of that kind."""

    max_model_calls: int | None = Field(default=None, ge=1)
    max_tool_calls_per_turn: int | None = Field(default=None, ge=1)
    max_tool_calls: int | None = Field(default=None, ge=1)  # all the task's turns together
    max_tokens: int | None = Field(default=None, ge=1)  # prompt + completion, summaries too
    deadline_seconds: int | None = Field(default=None, ge=1)  # wall clock from the start
    # US dollars its model calls and summaries may cost (as LiteLLM prices them)
    max_cost_usd: float | None = Field(default=None, gt=0)

    def capped(self, limits: Mapping[str, float]) -> Budgets:
        """Each budget at most its limit; an unset budget becomes its limit."""
        values = {}
        for name in BUDGET_NAMES:
            value, limit = getattr(self, name), limits.get(name)
            values[name] = (
                limit if limit is not None and (value is None or value > limit) else value
            )
        return Budgets.model_validate(values)


class RunawayLimits(BaseModel):
    # the same tool with the same arguments this many turns in a row stops the task
    repeated_call_limit: int = Field(default=3, ge=2)
    # this many turns in a row without a new tool result or an answer stops the task
    stalled_turn_limit: int = Field(default=4, ge=2)


class Spent(BaseModel):
    """What a task has used so far, and the evidence runaway detection keeps."""

    started_at: datetime | None = None  # when the first run began its loop
    model_calls: int = 0
    tool_calls: int = 0  # asked for by the model, whether they ran or not
    tokens: int = 0
    cost_usd: float = 0.0
    last_calls: str = ""  # signature of the previous turn's tool calls
    repeats: int = 0  # turns in a row with that same signature
    stalled_turns: int = 0
    result_digests: list[str] = Field(default_factory=list)  # recent distinct tool results
