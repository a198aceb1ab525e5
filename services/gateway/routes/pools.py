"""/v1/pools: each worker pool's backlog, workers, task counts and limits, for operators."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway.deps import (
    CatalogDep,
    OperatorDep,
    PoolCatalogDep,
    SessionFactoryDep,
    TemporalDep,
)
from services.gateway.errors import problem_responses
from services.pool_status import PoolList, describe_pools

router = APIRouter(prefix="/v1/pools", tags=["pools"], responses=problem_responses(401, 403))


@router.get("", summary="Describe the worker pools")
async def list_pools(
    principal: OperatorDep,
    client: TemporalDep,
    sessions: SessionFactoryDep,
    catalog: CatalogDep,
    pools: PoolCatalogDep,
) -> PoolList:
    """Per pool: the backlog waiting for a worker (Temporal's approximate task-queue stats),
    the workers polling, tasks running, waiting for approval and finished in the last hour
    (all tenants: pools are shared), and the configured limits. Needs role operator or admin."""
    return await describe_pools(client, sessions, catalog, pools)
