"""Per-tenant caps on running tasks: the one module that decides who may start.

A queued task starts (`admit`) when its tenant runs fewer tasks than its cap and no task of the
tenant earlier in (priority, created_at) order still waits for one of the free slots. A refused
task waits on a durable timer in its workflow (holding no worker slot) and asks again; tasks far
back in line ask less often, so a waiting flood costs little. So one tenant's flood takes at
most its cap's share of the workers, and other tenants' tasks start beside it. In reject mode the
gateway asks `room_for_one_more` at submit instead, and refuses the task when there is none.

Only `running` counts: a task waiting for an approval or for the user's next message holds no
slot, and resumes without asking (so a tenant can briefly run more than its cap).

Decisions of one tenant are serialised by a transaction-scoped advisory lock on the tenant, so
two tasks can never both take its last free slot. Methods never commit: the caller owns the
transaction (and with it the lock).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Exists, ScalarSelect, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.events import EventRepository, NewEvent
from activities.db.models import Task, TaskEvent, Tenant
from workflows.contracts.tasks import AdmissionPolicy, TaskStatus

# first key of the two-int advisory lock, so these locks never collide with other uses
_LOCK_CLASS = 0x41475459  # "AGTY"

WAITING_STEP = "admission:waiting"
"""Step key of the event a task records when it first has to wait for a slot."""
ADMITTED_STEP = "admission:admitted"

MAX_BACKOFF = 4
"""A task a cap's worth (or two, three) back in line asks every 2 (3, at most 4) poll intervals."""

STALE_AFTER_POLLS = 3 * MAX_BACKOFF
"""A queued task silent this many poll intervals (its pool has no worker) is out of line."""


@dataclass(frozen=True)
class LiveCounts:
    running: int
    queued: int


@dataclass(frozen=True)
class Admission:
    admitted: bool
    cap: int
    running: int  # the tenant's running tasks, not counting this one
    ahead: int  # queued tasks before this one in line
    wait_seconds: float | None = None  # when refused: ask again after this long


@dataclass(frozen=True)
class Room:
    """A tenant's cap and its tasks queued and running, at submit in reject mode."""

    cap: int
    counts: LiveCounts

    @property
    def has_room(self) -> bool:
        return self.counts.running + self.counts.queued < self.cap


class TenantCapRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_tenant(self, tenant_id: uuid.UUID) -> None:
        """Hold the tenant's admission lock until the transaction ends."""
        await self._session.execute(select(_lock(tenant_id)))

    async def lock_and_cap(self, tenant_id: uuid.UUID, default: int) -> int:
        """Take the tenant's lock (see `lock_tenant`) and read its cap (see `cap`), in one
        round trip. The cap is configuration, not what the lock guards: it may be read in the
        snapshot taken before the lock was granted; counts never are (a statement of their
        own after this one)."""
        own_cap = select(Tenant.max_concurrent_tasks).where(Tenant.id == tenant_id)
        row = (
            await self._session.execute(select(_lock(tenant_id), own_cap.scalar_subquery()))
        ).one()
        return row[1] if row[1] is not None else default

    async def cap(self, tenant_id: uuid.UUID, default: int) -> int:
        """The tenant's own cap, else `default` (the settings')."""
        own = await self._session.scalar(
            select(Tenant.max_concurrent_tasks).where(Tenant.id == tenant_id)
        )
        return own if own is not None else default

    async def live_counts(self, tenant_id: uuid.UUID) -> LiveCounts:
        """Tasks running and queued; waiting_approval and waiting_input count as neither."""
        row = (await self._session.execute(select(*_live_counts(tenant_id)))).one()
        return LiveCounts(running=int(row[0]), queued=int(row[1]))

    async def ahead_in_line(self, task: Task, stale_after: timedelta) -> int:
        """The tenant's queued tasks before this one in (priority, created_at) order.

        Only tasks that asked for a slot within `stale_after` count: a task whose pool has no
        worker never asks, and must not hold the tenant's other tasks back.
        """
        return int(await self._session.scalar(select(_ahead_in_line(task, stale_after))) or 0)

    async def has_waited(self, task_id: uuid.UUID) -> bool:
        return bool(await self._session.scalar(select(_has_waited(task_id))))

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

    async def admit(self, task: Task, policy: AdmissionPolicy) -> Admission:
        """May this queued task start now? Decided under the tenant's lock and recorded: a
        first refusal and an admission after waiting each leave an `admission` event. The
        caller marks an admitted task running in the same transaction."""
        cap = await self.lock_and_cap(task.tenant_id, policy.default_cap)
        stale_after = timedelta(seconds=policy.poll_seconds * STALE_AFTER_POLLS)
        running_now, _ = _live_counts(task.tenant_id)  # read after the lock is granted
        now = select(running_now, _ahead_in_line(task, stale_after), _has_waited(task.id))
        row = (await self._session.execute(now)).one()
        running, ahead = int(row[0]), int(row[1])
        free = max(cap - running, 0)
        events = EventRepository(self._session)
        if ahead < free:
            if row[2]:
                data = {"state": "admitted", "cap": cap, "running": running + 1}
                await events.add(task.id, ADMITTED_STEP, NewEvent("admission", data))
            return Admission(admitted=True, cap=cap, running=running, ahead=ahead)
        behind = ahead - free  # tasks that will get a slot before this one
        wait = policy.poll_seconds * min(1 + behind // cap, MAX_BACKOFF)
        await self.touch(task.id)
        data = {"state": "waiting", "cap": cap, "running": running, "ahead": ahead}
        await events.add(task.id, WAITING_STEP, NewEvent("admission", data))
        return Admission(admitted=False, cap=cap, running=running, ahead=ahead, wait_seconds=wait)

    async def room_for_one_more(self, tenant_id: uuid.UUID, default_cap: int) -> Room:
        """The tenant's cap against its queued and running tasks. Takes the tenant's lock for
        the rest of the caller's transaction, so two submits cannot both take the last place."""
        cap = await self.lock_and_cap(tenant_id, default_cap)
        return Room(cap=cap, counts=await self.live_counts(tenant_id))


def _lock(tenant_id: uuid.UUID) -> ColumnElement[Any]:
    return func.pg_advisory_xact_lock(_LOCK_CLASS, func.hashtext(str(tenant_id)))


def _live_counts(tenant_id: uuid.UUID) -> tuple[ScalarSelect[Any], ScalarSelect[Any]]:
    """The tenant's running and queued tasks, as two scalar subqueries."""

    def count(status: TaskStatus) -> ScalarSelect[Any]:
        return (
            select(func.count())
            .where(
                Task.tenant_id == tenant_id,
                Task.status == status.value,
                Task.shadow_of.is_(None),  # a shadow takes no slot of its tenant's cap
            )
            .scalar_subquery()
        )

    return count(TaskStatus.running), count(TaskStatus.queued)


def _ahead_in_line(task: Task, stale_after: timedelta) -> ScalarSelect[Any]:
    return (
        select(func.count())
        .where(
            Task.tenant_id == task.tenant_id,
            Task.status == TaskStatus.queued.value,
            Task.shadow_of.is_(None),
            Task.updated_at >= func.now() - stale_after,
            tuple_(Task.priority, Task.created_at, Task.id)
            < tuple_(task.priority, task.created_at, task.id),
        )
        .scalar_subquery()
    )


def _has_waited(task_id: uuid.UUID) -> Exists:
    return (
        select(TaskEvent.id)
        .where(TaskEvent.task_id == task_id, TaskEvent.step_key == WAITING_STEP)
        .exists()
    )
