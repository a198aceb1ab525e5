"""A task's events become visible in id order: each insert takes a transaction-scoped lock on
its task before it draws its id, so a transaction that drew a lower id for the task has always
committed before another draws a higher one. Without it, two steps of one task recorded at
once (parallel tool calls, a decision beside a tool result) could commit out of id order, and a
client resuming its stream after the higher id (Last-Event-ID) would never see the lower one.

Revision ID: 0010_task_event_order
Revises: 0009_spend_limits
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_task_event_order"
down_revision: str | Sequence[str] | None = "0009_spend_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# first key of the two-int advisory lock ("AGTE"), apart from the tenant caps' ("AGTY")
LOCK_CLASS = 0x41475445


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION agentry_order_task_event() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({LOCK_CLASS}, hashtext(NEW.task_id::text));
            NEW.id := nextval(pg_get_serial_sequence('task_events', 'id'));
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER task_events_order BEFORE INSERT ON task_events
        FOR EACH ROW EXECUTE FUNCTION agentry_order_task_event()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER task_events_order ON task_events")
    op.execute("DROP FUNCTION agentry_order_task_event()")
