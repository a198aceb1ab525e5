"""A task's event log and transcript, read in id order so clients can resume from an id."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Message, TaskEvent


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, task_id: uuid.UUID, type: str, data: dict[str, Any], step_key: str
    ) -> int | None:
        """Append an event; None when `step_key` was already recorded (a retried step)."""
        statement = (
            insert(TaskEvent)
            .values(task_id=task_id, type=type, data=data, step_key=step_key)
            .on_conflict_do_nothing(constraint="uq_task_events_task_step")
            .returning(TaskEvent.id)
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


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list(self, task_id: uuid.UUID) -> list[Message]:
        statement = select(Message).where(Message.task_id == task_id).order_by(Message.id)
        return list((await self._session.execute(statement)).scalars())

    async def add_user_message(self, task_id: uuid.UUID, step_key: str, content: str) -> int:
        """A message the user sent while the task runs; its id."""
        message = Message(task_id=task_id, step_key=step_key, role="user", content=content)
        self._session.add(message)
        await self._session.flush()
        return message.id

    async def delete(self, message_id: int) -> None:
        await self._session.execute(delete(Message).where(Message.id == message_id))
