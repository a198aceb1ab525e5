"""Agent spec versions: each version of each agent's spec as it was first seen
(`agent_versions`), the version each task runs with (`tasks.agent_version`) and the skill
versions its prompt carries (`tasks.skills_used`).

Revision ID: 0015_agent_versions
Revises: 0014_shadow_runs
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015_agent_versions"
down_revision: str | Sequence[str] | None = "0014_shadow_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("agent_version", sa.Integer(), nullable=True))
    op.add_column("tasks", sa.Column("skills_used", JSONB(), nullable=True))
    op.create_table(
        "agent_versions",
        sa.Column("agent", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("spec", JSONB(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_table("agent_versions")
    op.drop_column("tasks", "skills_used")
    op.drop_column("tasks", "agent_version")
