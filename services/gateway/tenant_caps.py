"""Per-tenant caps at submit: refuse over the cap (reject mode), or hand the task the policy it
waits for a slot under (queue mode; activities/tenant_admission.py decides when it starts).

Reject mode counts the tenant's queued and running tasks under the same per-tenant lock the
workers admit under, so two racing submits cannot both take the last place.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.tenant_caps import TenantCapRepository
from services.gateway.errors import ProblemError
from services.settings import Settings
from workflows.contracts import AdmissionPolicy


@dataclass(frozen=True)
class TenantCaps:
    default_cap: int
    over_cap: Literal["queue", "reject"]
    retry_after_seconds: int
    poll_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> TenantCaps:
        return cls(
            default_cap=settings.tenant_max_concurrent_tasks,
            over_cap=settings.tenant_over_cap,
            retry_after_seconds=settings.tenant_cap_retry_after_seconds,
            poll_seconds=settings.tenant_admission_poll_seconds,
        )

    @property
    def admission(self) -> AdmissionPolicy:
        """What the task's workflow starts with: every task begins within its tenant's cap
        (in reject mode it nearly always has a slot at once)."""
        return AdmissionPolicy(default_cap=self.default_cap, poll_seconds=self.poll_seconds)


async def refuse_over_cap(session: AsyncSession, tenant_id: uuid.UUID, caps: TenantCaps) -> None:
    """Reject mode: 429 when the tenant's queued and running tasks already fill its cap.

    Takes the tenant's lock for the rest of the caller's transaction; a refusal rolls back.
    """
    repository = TenantCapRepository(session)
    await repository.lock_tenant(tenant_id)
    cap = await repository.cap(tenant_id, caps.default_cap)
    counts = await repository.live_counts(tenant_id)
    if counts.running + counts.queued < cap:
        return
    await session.rollback()
    raise ProblemError(
        429,
        f"this tenant may have {cap} tasks queued or running at once and has "
        f"{counts.running} running and {counts.queued} queued; retry after "
        f"{caps.retry_after_seconds}s, once one has finished",
        kind="tenant-cap-reached",
        extra={"cap": cap, "running": counts.running, "queued": counts.queued},
        headers={"Retry-After": str(caps.retry_after_seconds)},
    )
