"""The table of shadow runs: one row per live task whose shadow task has finished too
(activities/db/shadow_runs.py). In models.Base's metadata (activities/db/__init__.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from activities.db.models import Base


class ShadowComparison(Base):
    """A live task and its shadow compared: the verdicts and figures the summary averages as
    columns, and each run's figures (status, answer, tools, duration) as JSON."""

    __tablename__ = "shadow_comparisons"
    __table_args__ = (
        Index("ix_shadow_comparisons_agent", "tenant_id", "agent", "compared_at", "live_task_id"),
    )

    live_task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    shadow_task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    agent: Mapped[str] = mapped_column(String(200))
    shadow_agent: Mapped[str] = mapped_column(String(200))
    same_answer: Mapped[bool] = mapped_column(Boolean)
    same_tools: Mapped[bool] = mapped_column(Boolean)
    live_model_calls: Mapped[int] = mapped_column(Integer)
    shadow_model_calls: Mapped[int] = mapped_column(Integer)
    live_tokens: Mapped[int] = mapped_column(Integer)
    shadow_tokens: Mapped[int] = mapped_column(Integer)
    live: Mapped[dict[str, Any]] = mapped_column(JSONB)
    shadow: Mapped[dict[str, Any]] = mapped_column(JSONB)
    compared_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
