"""Bodies of GET /v1/agents/{name}/shadow: an agent's shadow runs, summarised and per task."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from activities.db.shadow_runs import ShadowSummary
from activities.db.shadow_tables import ShadowComparison


class ShadowRunOut(BaseModel):
    """One side of a comparison: the live task or its shadow, as it finished."""

    task_id: uuid.UUID
    agent: str
    status: str
    output: str | None
    tools: list[str] = Field(description="The tools it called in order (a turn's by name).")
    model_calls: int
    tokens: int = Field(description="Prompt and completion tokens.")
    duration_ms: int | None = Field(description="From start to finish; null: never started.")

    @classmethod
    def from_json(cls, figures: dict[str, Any]) -> ShadowRunOut:
        return cls.model_validate(figures)


class ShadowComparisonOut(BaseModel):
    live_task_id: uuid.UUID
    shadow_task_id: uuid.UUID
    compared_at: datetime
    same_answer: bool = Field(description="Both answered, the same text up to whitespace.")
    same_tools: bool = Field(description="The same tools in the same order.")
    live: ShadowRunOut
    shadow: ShadowRunOut

    @classmethod
    def from_row(cls, row: ShadowComparison) -> ShadowComparisonOut:
        return cls(
            live_task_id=row.live_task_id,
            shadow_task_id=row.shadow_task_id,
            compared_at=row.compared_at,
            same_answer=row.same_answer,
            same_tools=row.same_tools,
            live=ShadowRunOut.from_json(row.live),
            shadow=ShadowRunOut.from_json(row.shadow),
        )


class LiveAndShadow(BaseModel):
    live: float | None
    shadow: float | None


class ShadowSummaryOut(BaseModel):
    agent: str
    shadow_agent: str | None = Field(
        description="The agent its spec names as shadow; null: none now (the comparisons "
        "stored while it had one are still listed)."
    )
    share: float | None = Field(description="The share of its tasks shadowed.")
    compared: int = Field(description="Live tasks compared with their shadow (both finished).")
    same_answer: int
    same_answer_rate: float | None = Field(description="same_answer / compared; null: none.")
    same_tools: int
    same_tools_rate: float | None
    mean_model_calls: LiveAndShadow
    mean_tokens: LiveAndShadow
    items: list[ShadowComparisonOut] = Field(description="The most recent comparisons first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")

    @classmethod
    def build(
        cls,
        agent: str,
        shadow: tuple[str, float] | None,
        summary: ShadowSummary,
        items: list[ShadowComparisonOut],
        next_cursor: str | None,
    ) -> ShadowSummaryOut:
        compared = summary.compared
        return cls(
            agent=agent,
            shadow_agent=shadow[0] if shadow else None,
            share=shadow[1] if shadow else None,
            compared=compared,
            same_answer=summary.same_answer,
            same_answer_rate=summary.same_answer / compared if compared else None,
            same_tools=summary.same_tools,
            same_tools_rate=summary.same_tools / compared if compared else None,
            mean_model_calls=LiveAndShadow(
                live=summary.live_model_calls, shadow=summary.shadow_model_calls
            ),
            mean_tokens=LiveAndShadow(live=summary.live_tokens, shadow=summary.shadow_tokens),
            items=items,
            next_cursor=next_cursor,
        )
