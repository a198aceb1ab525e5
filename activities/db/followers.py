"""Who follows a task live: one row per open stream (GET /v1/tasks/{id}/stream), kept by the
gateway serving it, read by the task's model turns.

A turn streams its model call (and publishes its text as deltas) only while the task has a
follower; a call nobody watches is asked for in one piece, which costs the LiteLLM proxy less
(docs/PROFILE.md, "LiteLLM's own hop"). A stream holds its row for `FOLLOW_SECONDS` and pushes
it on every `REFRESH_SECONDS` while it stays open, and deletes it when it ends; a row whose
gateway died expires by itself (the read ignores it, the task's next follower deletes it)."""

from __future__ import annotations

import uuid

from sqlalchemy import Exists, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import TaskFollower

FOLLOW_SECONDS = 60.0
REFRESH_SECONDS = 15.0


def _until(seconds: float) -> object:
    return func.now() + func.make_interval(0, 0, 0, 0, 0, 0, seconds)


class TaskFollowerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def follow(self, task_id: uuid.UUID) -> uuid.UUID:
        """A new follower of the task, held for FOLLOW_SECONDS (the caller commits)."""
        await self._session.execute(
            delete(TaskFollower).where(
                TaskFollower.task_id == task_id, TaskFollower.expires_at < func.now()
            )
        )
        follower = uuid.uuid4()
        self._session.add(
            TaskFollower(id=follower, task_id=task_id, expires_at=_until(FOLLOW_SECONDS))
        )
        await self._session.flush()
        return follower

    async def still(self, follower: uuid.UUID, task_id: uuid.UUID) -> None:
        """Hold the follower another FOLLOW_SECONDS, writing it again if it expired and was
        cleared meanwhile (the caller commits)."""
        expires_at = _until(FOLLOW_SECONDS)
        await self._session.execute(
            insert(TaskFollower)
            .values(id=follower, task_id=task_id, expires_at=expires_at)
            .on_conflict_do_update(
                index_elements=[TaskFollower.id], set_={"expires_at": expires_at}
            )
        )

    async def unfollow(self, follower: uuid.UUID) -> None:
        await self._session.execute(delete(TaskFollower).where(TaskFollower.id == follower))

    async def followed(self, task_id: uuid.UUID) -> bool:
        """Whether a live stream follows the task now: one indexed read."""
        return bool(await self._session.scalar(select(followed(task_id))))


def followed(task_id: uuid.UUID) -> Exists:
    """True while a live stream follows the task, as a clause (a model turn's one read has it:
    StepRepository.inputs)."""
    return exists().where(TaskFollower.task_id == task_id, TaskFollower.expires_at > func.now())
