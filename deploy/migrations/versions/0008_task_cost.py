"""What each task's model calls cost, in US dollars (the LiteLLM proxy's figure).

Revision ID: 0008_task_cost
Revises: 0007_task_event_notify
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_task_cost"
down_revision: str | Sequence[str] | None = "0007_task_event_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tasks",
        sa.Column("cost_usd", sa.Numeric(18, 8), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("tasks", "cost_usd")
