"""/v1/usage: what a tenant's tasks used and cost; a platform operator sees every tenant's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from activities.db.usage import GroupBy, UsageRepository
from services.gateway.deps import PrincipalDep, SessionDep
from services.gateway.errors import ProblemError, problem_responses
from services.gateway.schemas.usage import UsageGroup, UsageReport
from services.roles import Role

DEFAULT_DAYS = 30

router = APIRouter(prefix="/v1/usage", tags=["usage"], responses=problem_responses(401, 422))


@router.get("", summary="Usage and cost, grouped", response_model_by_alias=True)
async def get_usage(
    principal: PrincipalDep,
    session: SessionDep,
    group_by: Annotated[GroupBy, Query(description="How to group the figures.")] = "day",
    start: Annotated[
        datetime | None,
        Query(alias="from", description="Tasks submitted from then (default: 30 days ago)."),
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="… until before then (default: now).")
    ] = None,
) -> UsageReport:
    """Tasks, model calls, tokens, cost, tool calls and the time spent waiting for approvers,
    per tenant, agent, model or day (UTC). A tenant's key sees its own tasks; a
    platform-operator key sees every tenant's. Per agent and day a task counts with its
    sub-agents; per model every model call counts where it was made."""
    end = _aware(end) if end is not None else datetime.now(UTC)
    start = _aware(start) if start is not None else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ProblemError(422, "`from` must be before `to`", kind="invalid-range")
    everyone = principal.role == Role.platform_operator
    rows = await UsageRepository(session).usage(
        group_by, start, end, None if everyone else principal.tenant_id
    )
    items = [
        UsageGroup(
            **row.__dict__,
            cost_per_succeeded_task_usd=(
                row.cost_usd / row.tasks_succeeded if row.tasks_succeeded else None
            ),
        )
        for row in rows
    ]
    return UsageReport(
        group_by=group_by,
        start=start,
        end=end,
        items=items,
        total_cost_usd=sum(item.cost_usd for item in items),
    )


def _aware(moment: datetime) -> datetime:
    """A time without a zone is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
