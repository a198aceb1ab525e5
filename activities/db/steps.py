"""Recording one agent step atomically: its message, its event, the task's counters and, for a
step that cost money or called a model, its tenant's month (activities/db/spend.py).

Every step has a `step_key` unique within its task, so an activity retried after a crash finds
what its first attempt already wrote instead of writing (or paying for) it twice.

A step is written by one statement (activities/db/step_writes.py): one round trip instead of
one per table, and no ORM unit of work on the hot path.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.events import NewEvent
from activities.db.messages import MessageRepository, NewMessage
from activities.db.models import Message
from activities.db.spend import current_month
from activities.db.step_writes import step_parameters, step_statement
from activities.db.tasks import StepCounters


class StepRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._messages = MessageRepository(session)

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
        """Write a step once; a second call with the same key returns the first one's message.

        The message, the event, the task's counters and (a step that cost money or called a
        model: it may hold a reservation) the spend settlement go in one statement, each part
        only when the message was new."""
        settles = counters is not None and bool(counters.cost_usd or counters.llm_calls)
        statement = step_statement(event is not None, counters, settles)
        parameters = step_parameters(
            task_id, step_key, message, event, counters, datetime.now(UTC), current_month()
        )
        row: Message | None = await self._session.scalar(
            select(Message).from_statement(statement), parameters
        )
        if row is None:  # an earlier attempt wrote it: nothing else to do
            existing = await self._messages.find_step(task_id, step_key)
            assert existing is not None
            return existing
        return row
