"""Recording one agent step atomically: its message, its event, the task's counters and, for a
step that cost money or called a model, its tenant's month (activities/db/spend.py).

Every step has a `step_key` unique within its task, so an activity retried after a crash finds
what its first attempt already wrote instead of writing (or paying for) it twice.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.events import EventRepository, NewEvent
from activities.db.messages import MessageRepository, NewMessage
from activities.db.models import Message
from activities.db.spend import SpendRepository, current_month
from activities.db.tasks import StepCounters, TaskRepository


class StepRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._messages = MessageRepository(session)
        self._events = EventRepository(session)
        self._tasks = TaskRepository(session)
        self._spend = SpendRepository(session)

    async def find(self, task_id: uuid.UUID, step_key: str) -> Message | None:
        """The message of a step already recorded, if it was."""
        return await self._messages.find_step(task_id, step_key)

    async def record(
        self,
        task_id: uuid.UUID,
        step_key: str,
        message: NewMessage,
        event: NewEvent | None = None,
        counters: StepCounters | None = None,
    ) -> Message:
        """Write a step once; a second call with the same key returns the first one's message."""
        row = await self._messages.add_once(task_id, step_key, message)
        if row is None:  # an earlier attempt wrote it: nothing else to do
            existing = await self._messages.find_step(task_id, step_key)
            assert existing is not None
            return existing
        if event is not None:
            await self._events.add(task_id, step_key, event)
        if counters is not None:
            await self._tasks.count_step(task_id, counters)
            if counters.cost_usd or counters.llm_calls:  # a model call may hold a reservation
                await self._spend.settle(task_id, step_key, counters.cost_usd, current_month())
        return row
