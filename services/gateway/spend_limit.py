"""Submits over the tenant's monthly spend limit are refused with 402: what the month's model
calls cost and what calls in flight have reserved already fill it (activities/db/spend.py).
A retry of a task already stored is never refused, and running tasks stop at their next model
call with `error.code = spend_limit`."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.spend import MonthSpend, SpendRepository, current_month
from services.gateway.errors import ProblemError


async def refuse_over_spend_limit(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    spend = await SpendRepository(session).month(tenant_id, current_month())
    if not spend.reached:
        return
    await session.rollback()
    raise ProblemError(
        402,
        f"this tenant's monthly spend limit of ${spend.limit_usd:.2f} is reached "
        f"(${spend.spent_usd:.4f} spent in {spend.month:%Y-%m}, ${spend.reserved_usd:.4f} "
        "reserved by model calls in flight); new tasks start again next month or once the "
        "limit is raised",
        kind="spend-limit-reached",
        extra=spend_figures(spend),
    )


def spend_figures(spend: MonthSpend) -> dict[str, object]:
    return {
        "month": spend.month.isoformat(),
        "limit_usd": None if spend.limit_usd is None else float(spend.limit_usd),
        "spent_usd": float(spend.spent_usd),
        "reserved_usd": float(spend.reserved_usd),
    }
