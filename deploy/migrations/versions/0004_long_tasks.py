"""Long tasks: summaries in the transcript, per-task budgets, tenant budget limits, sub-agents.

Revision ID: 0004_long_tasks
Revises: 0003_scheduling
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_long_tasks"
down_revision: str | Sequence[str] | None = "0003_scheduling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("summary_of", postgresql.JSONB(), nullable=True))
    op.add_column("tasks", sa.Column("budgets", postgresql.JSONB(), nullable=True))
    op.add_column(
        "tasks",
        sa.Column(
            "parent_task_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    op.create_index("ix_tasks_parent_task_id", "tasks", ["parent_task_id"])
    op.add_column("tenants", sa.Column("budget_limits", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("tenants", "budget_limits")
    op.drop_index("ix_tasks_parent_task_id", table_name="tasks")
    op.drop_column("tasks", "parent_task_id")
    op.drop_column("tasks", "budgets")
    op.drop_column("messages", "summary_of")
