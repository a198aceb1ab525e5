"""Shadow runs: a shadow task names the live task it shadows (`tasks.shadow_of`), and each
pair, once both finished, is compared in `shadow_comparisons`.

Revision ID: 0014_shadow_runs
Revises: 0013_task_model
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0014_shadow_runs"
down_revision: str | Sequence[str] | None = "0013_task_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tasks",
        sa.Column(
            "shadow_of",
            UUID(as_uuid=True),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_tasks_shadow_of",
        "tasks",
        ["shadow_of"],
        postgresql_where=sa.text("shadow_of IS NOT NULL"),
    )
    op.create_table(
        "shadow_comparisons",
        sa.Column(
            "live_task_id",
            UUID(as_uuid=True),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "shadow_task_id",
            UUID(as_uuid=True),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "tenant_id",
            UUID(as_uuid=True),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("shadow_agent", sa.String(200), nullable=False),
        sa.Column("same_answer", sa.Boolean(), nullable=False),
        sa.Column("same_tools", sa.Boolean(), nullable=False),
        sa.Column("live_model_calls", sa.Integer(), nullable=False),
        sa.Column("shadow_model_calls", sa.Integer(), nullable=False),
        sa.Column("live_tokens", sa.Integer(), nullable=False),
        sa.Column("shadow_tokens", sa.Integer(), nullable=False),
        sa.Column("live", JSONB(), nullable=False),
        sa.Column("shadow", JSONB(), nullable=False),
        sa.Column(
            "compared_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_shadow_comparisons_agent",
        "shadow_comparisons",
        ["tenant_id", "agent", "compared_at", "live_task_id"],
    )
    op.create_index(
        "ix_shadow_comparisons_shadow_task_id", "shadow_comparisons", ["shadow_task_id"]
    )


def downgrade() -> None:
    op.drop_table("shadow_comparisons")
    op.drop_index("ix_tasks_shadow_of", table_name="tasks")
    op.drop_column("tasks", "shadow_of")
