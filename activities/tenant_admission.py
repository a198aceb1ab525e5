"""Admission under a tenant's cap: may this queued task start running now?

A task starts when its tenant runs fewer tasks than its cap and no task of the tenant earlier
in (priority, created_at) order still waits for one of the free slots. A refused task waits on
a durable timer in its workflow (holding no worker slot) and asks again; tasks far back in line
ask less often, so a waiting flood costs little. So one tenant's flood takes at most its cap's
share of the workers, and other tenants' tasks start beside it.

Only `running` counts: a task waiting for an approval or for the user's next message holds no
slot, and resumes without asking (so a tenant can briefly run more than its cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Task
from activities.db.steps import NewEvent, add_event
from activities.db.tenant_caps import WAITING_STEP, TenantCapRepository
from workflows.contracts import AdmissionPolicy

MAX_BACKOFF = 4
"""A task a cap's worth (or two, three) back in line asks every 2 (3, at most 4) poll intervals."""

STALE_AFTER_POLLS = 3 * MAX_BACKOFF
"""A queued task silent this many poll intervals (its pool has no worker) is out of line."""


@dataclass(frozen=True)
class Admission:
    admitted: bool
    cap: int
    running: int  # the tenant's running tasks, not counting this one
    ahead: int  # queued tasks before this one in line
    wait_seconds: float | None = None  # when refused: ask again after this long


async def admit(session: AsyncSession, task: Task, policy: AdmissionPolicy) -> Admission:
    """Decide under the tenant's lock and record it: a first refusal and an admission after
    waiting each leave an `admission` event. The caller marks an admitted task running in the
    same transaction."""
    caps = TenantCapRepository(session)
    await caps.lock_tenant(task.tenant_id)
    cap = await caps.cap(task.tenant_id, policy.default_cap)
    running = (await caps.live_counts(task.tenant_id)).running
    stale_after = timedelta(seconds=policy.poll_seconds * STALE_AFTER_POLLS)
    ahead = await caps.ahead_in_line(task, stale_after)
    free = max(cap - running, 0)
    task_id = str(task.id)
    if ahead < free:
        if await caps.has_waited(task.id):
            data = {"state": "admitted", "cap": cap, "running": running + 1}
            await add_event(session, task_id, "admission:admitted", NewEvent("admission", data))
        return Admission(admitted=True, cap=cap, running=running, ahead=ahead)
    behind = ahead - free  # tasks that will get a slot before this one
    wait = policy.poll_seconds * min(1 + behind // cap, MAX_BACKOFF)
    await caps.touch(task.id)
    data = {"state": "waiting", "cap": cap, "running": running, "ahead": ahead}
    await add_event(session, task_id, WAITING_STEP, NewEvent("admission", data))
    return Admission(admitted=False, cap=cap, running=running, ahead=ahead, wait_seconds=wait)
