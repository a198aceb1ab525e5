"""Every new task event is announced on the channel `agentry_task_events` (payload: the task
id), so a gateway replica waiting on a task wakes at once instead of polling
(services/gateway/task_feed.py).

Revision ID: 0007_task_event_notify
Revises: 0006_shared_workspaces
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_task_event_notify"
down_revision: str | Sequence[str] | None = "0006_shared_workspaces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION agentry_notify_task_event() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('agentry_task_events', NEW.task_id::text);
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER task_events_notify AFTER INSERT ON task_events
        FOR EACH ROW EXECUTE FUNCTION agentry_notify_task_event()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER task_events_notify ON task_events")
    op.execute("DROP FUNCTION agentry_notify_task_event()")
