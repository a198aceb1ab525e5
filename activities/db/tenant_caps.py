"""Per-tenant caps on running tasks: the tenant's cap, its live counts, a task's place in line.

Admissions of one tenant are serialised by a transaction-scoped advisory lock on the tenant, so
two tasks can never both take its last free slot. Methods never commit: the caller owns the
transaction (and with it the lock).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Task, TaskEvent, Tenant
from workflows.contracts import TaskStatus

# first key of the two-int advisory lock, so these locks never collide with other uses
_LOCK_CLASS = 0x41475459  # "AGTY"

WAITING_STEP = "admission:waiting"
"""Step key of the event a task records when it first has to wait for a slot."""


@dataclass(frozen=True)
class LiveCounts:
    running: int
    queued: int


class TenantCapRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_tenant(self, tenant_id: uuid.UUID) -> None:
        """Hold the tenant's admission lock until the transaction ends."""
        await self._session.execute(
            select(func.pg_advisory_xact_lock(_LOCK_CLASS, func.hashtext(str(tenant_id))))
        )

    async def cap(self, tenant_id: uuid.UUID, default: int) -> int:
        """The tenant's own cap, else `default` (the settings')."""
        own = await self._session.scalar(
            select(Tenant.max_concurrent_tasks).where(Tenant.id == tenant_id)
        )
        return own if own is not None else default

    async def live_counts(self, tenant_id: uuid.UUID) -> LiveCounts:
        """Tasks running and queued; waiting_approval and waiting_input count as neither."""
        statuses = (TaskStatus.running.value, TaskStatus.queued.value)
        rows = await self._session.execute(
            select(Task.status, func.count())
            .where(Task.tenant_id == tenant_id, Task.status.in_(statuses))
            .group_by(Task.status)
        )
        counts = {status: int(count) for status, count in rows.all()}
        return LiveCounts(
            running=counts.get(TaskStatus.running.value, 0),
            queued=counts.get(TaskStatus.queued.value, 0),
        )

    async def ahead_in_line(self, task: Task, stale_after: timedelta) -> int:
        """The tenant's queued tasks before this one in (priority, created_at) order.

        Only tasks that asked for a slot within `stale_after` count: a task whose pool has no
        worker never asks, and must not hold the tenant's other tasks back.
        """
        statement = select(func.count()).where(
            Task.tenant_id == task.tenant_id,
            Task.status == TaskStatus.queued.value,
            Task.updated_at >= func.now() - stale_after,
            tuple_(Task.priority, Task.created_at, Task.id)
            < tuple_(task.priority, task.created_at, task.id),
        )
        return int(await self._session.scalar(statement) or 0)

    async def has_waited(self, task_id: uuid.UUID) -> bool:
        found = await self._session.scalar(
            select(TaskEvent.id).where(
                TaskEvent.task_id == task_id, TaskEvent.step_key == WAITING_STEP
            )
        )
        return found is not None

    async def touch(self, task_id: uuid.UUID) -> None:
        """Mark a refused task as still asking (see `ahead_in_line`)."""
        await self._session.execute(
            update(Task).where(Task.id == task_id).values(updated_at=func.now())
        )

    async def set_cap(self, tenant_name: str, cap: int | None) -> bool:
        """Set (None: clear) a tenant's own cap; False when there is no such tenant."""
        changed = await self._session.execute(
            update(Tenant)
            .where(Tenant.name == tenant_name)
            .values(max_concurrent_tasks=cap)
            .returning(Tenant.id)
        )
        return changed.scalar_one_or_none() is not None
