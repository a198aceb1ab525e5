"""Whether a tenant may store one more task: within its cap of queued + running tasks in
reject mode, within its queue limit in queue mode (activities/db/tenant_caps.py decides who
runs; this only keeps the queue bounded). A refusal is a 429 with Retry-After."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.tenant_caps import TenantCapRepository
from services.gateway.errors import ProblemError
from services.settings import Settings


async def refuse_without_room(
    session: AsyncSession, tenant_id: uuid.UUID, settings: Settings
) -> None:
    """Raise the 429 when the tenant has no room; holds the tenant's lock to the end of the
    caller's transaction otherwise, so two submits cannot both take the last place."""
    if settings.tenant_over_cap == "reject":
        await _refuse_over_cap(session, tenant_id, settings)
    else:
        await _refuse_over_queue_limit(session, tenant_id, settings)


async def _refuse_over_cap(session: AsyncSession, tenant_id: uuid.UUID, settings: Settings) -> None:
    """Reject mode: 429 when the tenant's queued and running tasks already fill its cap. The
    tenant's lock is held to the end of the caller's transaction; a refusal rolls back."""
    room = await TenantCapRepository(session).room_for_one_more(
        tenant_id, settings.tenant_max_concurrent_tasks
    )
    if room.has_room:
        return
    await session.rollback()
    running, queued = room.counts.running, room.counts.queued
    retry_after = settings.tenant_cap_retry_after_seconds
    raise ProblemError(
        429,
        f"this tenant may have {room.cap} tasks queued or running at once and has "
        f"{running} running and {queued} queued; retry after {retry_after}s, once one has "
        "finished",
        kind="tenant-cap-reached",
        extra={"cap": room.cap, "running": running, "queued": queued},
        headers={"Retry-After": str(retry_after)},
    )


async def _refuse_over_queue_limit(
    session: AsyncSession, tenant_id: uuid.UUID, settings: Settings
) -> None:
    """Queue mode: 429 when the tenant already has its limit of tasks waiting for a slot, so
    one tenant's flood cannot grow the queue (and the admission polls) without bound."""
    room = await TenantCapRepository(session).room_for_one_more(
        tenant_id, settings.tenant_max_concurrent_tasks
    )
    queued, limit = room.counts.queued, settings.tenant_max_queued_tasks
    if queued < limit:
        return
    await session.rollback()
    retry_after = settings.tenant_cap_retry_after_seconds
    raise ProblemError(
        429,
        f"this tenant already has {queued} tasks queued (the limit is {limit}) and "
        f"{room.counts.running} running; retry after {retry_after}s, once the queue has moved",
        kind="tenant-queue-full",
        extra={"queued": queued, "limit": limit, "running": room.counts.running},
        headers={"Retry-After": str(retry_after)},
    )
