"""A task's event log: what happened, in id order, so clients can resume from an id.

Each event has a `step_key` unique within its task, so a retried step logs itself once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import TaskEvent
from workflows.contracts.tasks import TaskStatus


@dataclass
class NewEvent:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


def status_event(
    status: TaskStatus, *, error_code: str | None = None, reason: str | None = None
) -> NewEvent:
    """The `status` event of a change to `status` (with a failure's code, a cancel's reason)."""
    data = {"status": status.value}
    if error_code:
        data["error_code"] = error_code
    if reason:
        data["reason"] = reason
    return NewEvent("status", data)


def status_step(status: TaskStatus) -> str:
    """Step key of a change a task makes once (queued, running, and each final status)."""
    return f"status:{status.value}"


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, task_id: uuid.UUID, step_key: str, event: NewEvent) -> int | None:
        """Append an event; None when `step_key` was already recorded (a retried step)."""
        statement = (
            insert(TaskEvent)
            .values(task_id=task_id, step_key=step_key, type=event.type, data=event.data)
            .on_conflict_do_nothing(constraint="uq_task_events_task_step")
            .returning(TaskEvent.id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def find(self, task_id: uuid.UUID, step_key: str) -> TaskEvent | None:
        statement = select(TaskEvent).where(
            TaskEvent.task_id == task_id, TaskEvent.step_key == step_key
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def delete(self, task_id: uuid.UUID, step_key: str) -> None:
        """Take back an event whose step was undone (e.g. a message its workflow never got)."""
        await self._session.execute(
            delete(TaskEvent).where(TaskEvent.task_id == task_id, TaskEvent.step_key == step_key)
        )

    async def list(
        self, task_id: uuid.UUID, *, after: int | None = None, limit: int = 100
    ) -> list[TaskEvent]:
        statement = select(TaskEvent).where(TaskEvent.task_id == task_id)
        if after is not None:
            statement = statement.where(TaskEvent.id > after)
        statement = statement.order_by(TaskEvent.id).limit(limit)
        return list((await self._session.execute(statement)).scalars())
