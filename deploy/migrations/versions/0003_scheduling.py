"""Scheduling: task priority, per-tenant concurrency caps, desired worker replicas per pool.

Revision ID: 0003_scheduling
Revises: 0002_approvals
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_scheduling"
down_revision: str | Sequence[str] | None = "0002_approvals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # 1 highest … 5 lowest, as Temporal's priority keys
    op.add_column(
        "tasks", sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="3")
    )
    # a tenant's own cap on concurrently running tasks; NULL: the settings' default
    op.add_column("tenants", sa.Column("max_concurrent_tasks", sa.Integer(), nullable=True))
    # counting a tenant's (or a pool's agents') tasks by status without a scan
    op.create_index("ix_tasks_tenant_status", "tasks", ["tenant_id", "status"])
    op.create_index("ix_tasks_agent_status", "tasks", ["agent", "status"])
    op.create_table(
        "pool_replicas",
        sa.Column("pool", sa.String(40), primary_key=True),
        sa.Column("replicas", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_table("pool_replicas")
    op.drop_index("ix_tasks_agent_status", table_name="tasks")
    op.drop_index("ix_tasks_tenant_status", table_name="tasks")
    op.drop_column("tenants", "max_concurrent_tasks")
    op.drop_column("tasks", "priority")
