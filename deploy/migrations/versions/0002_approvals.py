"""Approvals: tool calls waiting for (or decided by) a human.

Revision ID: 0002_approvals
Revises: 0001_initial
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_approvals"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "task_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "tenant_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(100), nullable=False),
        sa.Column("tool", sa.String(200), nullable=False),
        sa.Column("arguments", postgresql.JSONB(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("context", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("on_timeout", sa.String(16), nullable=False),
        _timestamp("deadline_at", nullable=False),
        _timestamp("escalated_at"),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decided_arguments", postgresql.JSONB(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("decided_by_name", sa.String(200), nullable=True),
        _timestamp("decided_at"),
        _timestamp("signalled_at"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("task_id", "iteration", "call_id", name="uq_approvals_task_call"),
    )
    op.create_index("ix_approvals_task_id", "approvals", ["task_id"])
    op.create_index(
        "ix_approvals_tenant_status_created",
        "approvals",
        ["tenant_id", "status", "created_at", "id"],
    )
    # the decision outbox: decided but not yet signalled (normally empty)
    op.create_index(
        "ix_approvals_unsignalled",
        "approvals",
        ["decided_at"],
        postgresql_where=sa.text("signalled_at IS NULL AND decided_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("approvals")
