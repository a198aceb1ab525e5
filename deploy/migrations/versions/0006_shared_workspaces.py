"""Workspace files in Postgres (every worker sees them; they go with their task), and an index
for the retention job's walk over finished top-level tasks.

Revision ID: 0006_shared_workspaces
Revises: 0005_hardening
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_shared_workspaces"
down_revision: str | Sequence[str] | None = "0005_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED_SQL = "status NOT IN ('succeeded', 'failed', 'cancelled')"


def upgrade() -> None:
    op.create_table(
        "workspace_files",
        sa.Column(
            "task_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("task_id", "path", name="pk_workspace_files"),
        sa.CheckConstraint("size = octet_length(content)", name="ck_workspace_files_size"),
    )
    op.create_index(
        "ix_tasks_finished_roots",
        "tasks",
        ["finished_at"],
        postgresql_where=sa.text(f"parent_task_id IS NULL AND NOT ({UNFINISHED_SQL})"),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_finished_roots", table_name="tasks")
    op.drop_table("workspace_files")
