"""Live streams open on a task (`task_followers`): a model turn streams its call only while
somebody follows the task, so its text can go out as deltas (activities/db/followers.py).

Revision ID: 0012_task_followers
Revises: 0011_task_event_notify_type
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0012_task_followers"
down_revision: str | Sequence[str] | None = "0011_task_event_notify_type"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_followers",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "task_id",
            UUID(as_uuid=True),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_task_followers_task_id", "task_followers", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_task_followers_task_id", table_name="task_followers")
    op.drop_table("task_followers")
