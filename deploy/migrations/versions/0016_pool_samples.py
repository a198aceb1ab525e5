"""Pool samples: each worker pool's backlog, task counts and workers over time
(`pool_samples`), for `GET /v1/pools/history`.

Revision ID: 0016_pool_samples
Revises: 0015_agent_versions
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_pool_samples"
down_revision: str | Sequence[str] | None = "0015_agent_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pool_samples",
        sa.Column("pool", sa.String(200), primary_key=True),
        sa.Column("sampled_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("backlog", sa.Integer(), nullable=True),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("replicas", sa.Integer(), nullable=False),
    )
    op.create_index("ix_pool_samples_sampled_at", "pool_samples", ["sampled_at"])


def downgrade() -> None:
    op.drop_index("ix_pool_samples_sampled_at", table_name="pool_samples")
    op.drop_table("pool_samples")
