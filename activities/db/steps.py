"""Recording one agent step atomically: its message, its event and the task's counters.

Every step has a `step_key` unique within its task, so an activity retried after a crash finds
what its first attempt already wrote instead of writing (or paying for) it twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Message, Task, TaskEvent

logger = logging.getLogger(__name__)


@dataclass
class StepCounters:
    llm_calls: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    iterations: int | None = None  # absolute value, when the step advances the loop


@dataclass
class NewMessage:
    role: str
    content: str | None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None


@dataclass
class NewEvent:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


async def find_step_message(session: AsyncSession, task_id: str, step_key: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.task_id == uuid.UUID(task_id), Message.step_key == step_key)
    )


async def record_step(
    session: AsyncSession,
    task_id: str,
    step_key: str,
    message: NewMessage,
    event: NewEvent | None = None,
    counters: StepCounters | None = None,
) -> Message:
    """Write a step once; a second call with the same key returns the first one's message."""
    tid = uuid.UUID(task_id)
    inserted = await session.scalar(
        insert(Message)
        .values(
            task_id=tid,
            step_key=step_key,
            role=message.role,
            content=message.content,
            tool_calls=message.tool_calls,
            tool_call_id=message.tool_call_id,
            name=message.name,
        )
        .on_conflict_do_nothing(constraint="uq_messages_task_step")
        .returning(Message.id)
    )
    if inserted is None:  # an earlier attempt wrote it: nothing else to do
        existing = await find_step_message(session, task_id, step_key)
        assert existing is not None
        return existing
    if event is not None:
        await add_event(session, task_id, step_key, event)
    if counters is not None:
        await _bump_counters(session, tid, counters)
    row = await session.get(Message, inserted)
    assert row is not None
    return row


async def add_event(session: AsyncSession, task_id: str, step_key: str, event: NewEvent) -> None:
    await session.execute(
        insert(TaskEvent)
        .values(task_id=uuid.UUID(task_id), step_key=step_key, type=event.type, data=event.data)
        .on_conflict_do_nothing(constraint="uq_task_events_task_step")
    )


async def _bump_counters(session: AsyncSession, task_id: uuid.UUID, c: StepCounters) -> None:
    values: dict[str, Any] = {
        "llm_calls": Task.llm_calls + c.llm_calls,
        "tool_calls": Task.tool_calls + c.tool_calls,
        "prompt_tokens": Task.prompt_tokens + c.prompt_tokens,
        "completion_tokens": Task.completion_tokens + c.completion_tokens,
        "updated_at": datetime.now(UTC),
    }
    if c.iterations is not None:
        values["iterations"] = c.iterations
    await session.execute(update(Task).where(Task.id == task_id).values(**values))


async def load_messages(session: AsyncSession, task_id: str, ids: list[int]) -> list[Message]:
    """The transcript the workflow refers to, in the order it refers to it."""
    rows = await session.scalars(
        select(Message).where(Message.task_id == uuid.UUID(task_id), Message.id.in_(ids))
    )
    by_id = {row.id: row for row in rows}
    missing = [i for i in ids if i not in by_id]
    if missing:  # a follow-up the gateway took back after its signal seemed to fail
        logger.warning("task %s: messages %s are gone; continuing without them", task_id, missing)
    return [by_id[i] for i in ids if i in by_id]
