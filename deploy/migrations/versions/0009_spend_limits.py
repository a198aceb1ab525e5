"""Tenants' monthly spend: what each month's model calls cost, what calls in flight have
reserved, and the limit both must stay within.

Revision ID: 0009_spend_limits
Revises: 0008_task_cost
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0009_spend_limits"
down_revision: str | Sequence[str] | None = "0008_task_cost"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("monthly_spend_limit_usd", sa.Numeric(18, 8)))
    op.create_table(
        "tenant_spend",
        sa.Column(
            "tenant_id",
            UUID(as_uuid=True),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("spent_usd", sa.Numeric(18, 8), server_default="0", nullable=False),
        sa.Column("reserved_usd", sa.Numeric(18, 8), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "month"),
    )
    op.create_table(
        "spend_reservations",
        sa.Column(
            "task_id",
            UUID(as_uuid=True),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step_key", sa.String(200), nullable=False),
        sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount_usd", sa.Numeric(18, 8), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("task_id", "step_key"),
    )


def downgrade() -> None:
    op.drop_table("spend_reservations")
    op.drop_table("tenant_spend")
    op.drop_column("tenants", "monthly_spend_limit_usd")
