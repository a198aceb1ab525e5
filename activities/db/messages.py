"""A task's transcript. Messages live here, not in workflow histories: the workflow holds
their ids."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Message

logger = logging.getLogger(__name__)


@dataclass
class NewMessage:
    role: str
    content: str | None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    summary_of: list[int] | None = None  # a summary: the messages it stands for


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def transcript(self, task_id: uuid.UUID) -> list[Message]:
        """Every message of the task, in order."""
        statement = select(Message).where(Message.task_id == task_id).order_by(Message.id)
        return list((await self._session.execute(statement)).scalars())

    async def load(self, task_id: uuid.UUID, ids: Sequence[int]) -> list[Message]:
        """The messages the workflow refers to, in the order it refers to them."""
        rows = await self._session.scalars(
            select(Message).where(Message.task_id == task_id, Message.id.in_(ids))
        )
        return in_order(task_id, ids, rows)

    async def find_step(self, task_id: uuid.UUID, step_key: str) -> Message | None:
        """The message a step wrote, if it did."""
        return await self._session.scalar(
            select(Message).where(Message.task_id == task_id, Message.step_key == step_key)
        )

    async def add_user_message(self, task_id: uuid.UUID, step_key: str, content: str) -> int:
        """A message the user sent while the task runs; its id."""
        message = Message(task_id=task_id, step_key=step_key, role="user", content=content)
        self._session.add(message)
        await self._session.flush()
        return message.id

    async def delete(self, message_id: int) -> None:
        await self._session.execute(delete(Message).where(Message.id == message_id))


def in_order(task_id: uuid.UUID, ids: Sequence[int], rows: Iterable[Message]) -> list[Message]:
    """`rows` in the order of `ids`; an id without its row is logged and left out."""
    by_id = {row.id: row for row in rows}
    missing = [i for i in ids if i not in by_id]
    if missing:  # a follow-up the gateway took back after its signal seemed to fail
        logger.warning("task %s: messages %s are gone; continuing without them", task_id, missing)
    return [by_id[i] for i in ids if i in by_id]
