"""The model group a task runs with (`tasks.model`): its agent's, or the one its submit chose
instead (`POST /v1/tasks` `model`); null for tasks stored before.

Revision ID: 0013_task_model
Revises: 0012_task_followers
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_task_model"
down_revision: str | Sequence[str] | None = "0012_task_followers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("model", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("tasks", "model")
