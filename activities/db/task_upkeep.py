"""The walks of the background jobs over all tenants' tasks: the reconciler's over tasks not
final (services/gateway/task_reconciler.py) and the retention job's over old finished ones
(services/gateway/retention.py). Methods never commit."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Task
from activities.db.tasks import FINAL_STATUSES


class TaskUpkeepRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def unfinished_before(
        self, before: datetime, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Task]:
        """Tasks not final and unchanged since `before`, oldest change first, from after the
        (updated_at, id) `after` on (the reconciler's place in its round)."""
        statement = select(Task).where(Task.status.not_in(FINAL_STATUSES), Task.updated_at < before)
        if after is not None:
            statement = statement.where(tuple_(Task.updated_at, Task.id) > after)
        statement = statement.order_by(Task.updated_at, Task.id).limit(limit)
        return list((await self._session.scalars(statement)).all())

    async def delete_finished_before(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` final top-level tasks finished before `before`, oldest first;
        their events, messages, approvals, files and sub-agent tasks go with them (cascades).
        Rows another transaction holds are skipped, never waited for. How many were deleted."""
        oldest = (
            select(Task.id)
            .where(
                Task.parent_task_id.is_(None),
                Task.status.in_(FINAL_STATUSES),
                Task.finished_at < before,
            )
            .order_by(Task.finished_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        deleted = await self._session.execute(
            delete(Task).where(Task.id.in_(oldest.scalar_subquery())).returning(Task.id)
        )
        return len(deleted.all())
