"""Hardening: an index for the reconciler's round over tasks not final; API keys that expire
and say when they were last used.

Revision ID: 0005_hardening
Revises: 0004_long_tasks
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_hardening"
down_revision: str | Sequence[str] | None = "0004_long_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED_SQL = "status NOT IN ('succeeded', 'failed', 'cancelled')"


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_tasks_unfinished_updated",
        "tasks",
        ["updated_at", "id"],
        postgresql_where=sa.text(UNFINISHED_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_unfinished_updated", table_name="tasks")
    op.drop_column("api_keys", "last_used_at")
    op.drop_column("api_keys", "expires_at")
