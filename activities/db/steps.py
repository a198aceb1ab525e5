"""Recording one agent step atomically: its message, its event, the task's counters and, for a
step that cost money or called a model, its tenant's month (activities/db/spend.py).

Every step has a `step_key` unique within its task, so an activity retried after a crash finds
what its first attempt already wrote instead of writing (or paying for) it twice.

A step is written by one statement (activities/db/step_writes.py): one round trip instead of
one per table, and no ORM unit of work on the hot path.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.events import NewEvent
from activities.db.followers import followed
from activities.db.messages import MessageRepository, NewMessage, in_order
from activities.db.models import Message, Task, Tenant
from activities.db.spend import current_month
from activities.db.step_writes import step_parameters, step_statement
from activities.db.tasks import StepCounters


@dataclass(frozen=True)
class StepInputs:
    """What a model step reads before it calls the model, in one query (`StepRepository.inputs`)."""

    done: Message | None  # the step's message, when an earlier attempt recorded it
    transcript: list[Message]  # the messages the workflow referred to, in its order
    spend_limited: bool | None  # the task's tenant has a spend limit; None: not known
    followed: bool = False  # a live stream follows the task (activities/db/followers.py)


class StepRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._messages = MessageRepository(session)

    async def find(self, task_id: uuid.UUID, step_key: str) -> Message | None:
        """The message of a step already recorded, if it was."""
        return await self._messages.find_step(task_id, step_key)

    async def inputs(self, task_id: uuid.UUID, step_key: str, ids: Sequence[int]) -> StepInputs:
        """The step's message if it was recorded, the transcript `ids` name, whether the
        task's tenant has a spend limit and whether the task is followed live: one query."""
        limited = (
            select(Tenant.monthly_spend_limit_usd.is_not(None))
            .join(Task, Task.tenant_id == Tenant.id)
            .where(Task.id == task_id)
            .scalar_subquery()
        )
        wanted = bindparam("ids", list(ids), type_=ARRAY(BigInteger))
        statement = select(Message, limited, followed(task_id)).where(
            Message.task_id == task_id,
            or_(Message.step_key == step_key, Message.id == any_(wanted)),
        )
        done, rows, spend_limited, is_followed = None, [], None, False
        for row, row_limited, row_followed in await self._session.execute(statement):
            spend_limited, is_followed = row_limited, row_followed
            if row.step_key == step_key:
                done = row
            else:
                rows.append(row)
        return StepInputs(done, in_order(task_id, ids, rows), spend_limited, is_followed)

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
        only when the message was new: one transaction even outside the caller's."""
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
