"""/v1/spend: a tenant's spend this month against its monthly limit; platform operators see any
tenant's and set the limit (activities/db/spend.py holds the calls to it)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.spend import SpendRepository, current_month
from activities.db.tenants import TenantRepository
from services.gateway.deps import PlatformOperatorDep, PrincipalDep, SessionDep
from services.gateway.errors import ProblemError, problem_responses
from services.gateway.schemas.usage import SpendLimitChange, SpendReport
from services.roles import Role

router = APIRouter(prefix="/v1/spend", tags=["usage"], responses=problem_responses(401, 422))


@router.get("", summary="This month's spend and limit", responses=problem_responses(403, 404))
async def get_spend(
    principal: PrincipalDep,
    session: SessionDep,
    tenant: Annotated[
        str | None, Query(max_length=200, description="Platform operators: whose spend.")
    ] = None,
) -> SpendReport:
    """What the caller's tenant's model calls cost this calendar month (UTC), what calls in
    flight have reserved, and its limit. Over the limit, submits answer 402."""
    if tenant is not None and principal.role != Role.platform_operator:
        raise ProblemError(
            403,
            "only a platform-operator key may read another tenant's spend",
            kind="forbidden-role",
        )
    tenants = TenantRepository(session)
    if tenant is None:
        tenant_id = principal.tenant_id
        name = await tenants.name_of(tenant_id)
    else:
        found = await tenants.find(tenant)
        if found is None:
            raise ProblemError(404, f"no tenant named {tenant!r}", kind="tenant-not-found")
        tenant_id, name = found.id, found.name
    return await _report(session, tenant_id, name)


@router.put(
    "/limit", summary="Set a tenant's monthly spend limit", responses=problem_responses(403, 404)
)
async def put_spend_limit(
    principal: PlatformOperatorDep, session: SessionDep, body: SpendLimitChange
) -> SpendReport:
    """Platform operators only. Lowering the limit below what is spent stops the tenant's
    running tasks at their next model call and refuses its submits with 402."""
    limit = None if body.monthly_limit_usd is None else Decimal(str(body.monthly_limit_usd))
    if not await SpendRepository(session).set_limit(body.tenant, limit):
        raise ProblemError(404, f"no tenant named {body.tenant!r}", kind="tenant-not-found")
    found = await TenantRepository(session).find(body.tenant)
    assert found is not None
    await session.commit()
    return await _report(session, found.id, found.name)


async def _report(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> SpendReport:
    spend = await SpendRepository(session).month(tenant_id, current_month())
    remaining = None
    if spend.limit_usd is not None:
        remaining = float(max(spend.limit_usd - spend.spent_usd - spend.reserved_usd, Decimal(0)))
    return SpendReport(
        tenant=name,
        month=spend.month.isoformat(),
        limit_usd=None if spend.limit_usd is None else float(spend.limit_usd),
        spent_usd=float(spend.spent_usd),
        reserved_usd=float(spend.reserved_usd),
        remaining_usd=remaining,
    )
