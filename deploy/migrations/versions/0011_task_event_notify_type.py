"""Task-event notifications carry the event's type after the task id (`<task id> <type>`), so a
request waiting for a task to be final (`GET /v1/tasks/{id}?wait=`) wakes on its status changes
only, not on each of its model and tool calls (services/gateway/task_feed.py).

Revision ID: 0011_task_event_notify_type
Revises: 0010_task_event_order
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_task_event_notify_type"
down_revision: str | Sequence[str] | None = "0010_task_event_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _notify_with(payload: str) -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION agentry_notify_task_event() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('agentry_task_events', {payload});
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )


def upgrade() -> None:
    _notify_with("NEW.task_id::text || ' ' || NEW.type")


def downgrade() -> None:
    _notify_with("NEW.task_id::text")
