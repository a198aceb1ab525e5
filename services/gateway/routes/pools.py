"""/v1/pools: each worker pool's backlog, workers, task counts and limits, and scaling a pool's
workers, for operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.gateway.deps import (
    AgentCatalogDep,
    PlatformOperatorDep,
    PoolCatalogDep,
    SessionDep,
    SessionFactoryDep,
    TemporalDep,
)
from services.gateway.errors import ProblemError, problem_responses
from services.gateway.schemas.pools import PoolReplicasOut, ReplicasUpdate
from services.pools.scaling import (
    ReplicasOutOfRangeError,
    UnknownPoolError,
    scale_pool,
)
from services.pools.status import PoolList, describe_pools

router = APIRouter(prefix="/v1/pools", tags=["pools"], responses=problem_responses(401, 403))


@router.get("", summary="Describe the worker pools")
async def list_pools(
    principal: PlatformOperatorDep,
    client: TemporalDep,
    sessions: SessionFactoryDep,
    catalog: AgentCatalogDep,
    pools: PoolCatalogDep,
) -> PoolList:
    """Per pool: the backlog waiting for a worker (Temporal's approximate task-queue stats),
    the workers polling, tasks running, waiting for approval and finished in the last hour
    (all tenants: pools are shared), and the configured limits. Needs role
    `platform-operator`, which no tenant key has unless the platform gives it."""
    return await describe_pools(client, sessions, catalog, pools)


@router.put(
    "/{name}/replicas",
    summary="Scale a pool's workers",
    responses=problem_responses(404, 422),
)
async def set_replicas(
    name: Annotated[str, Path(description="The pool's name (see GET /v1/pools).")],
    body: ReplicasUpdate,
    principal: PlatformOperatorDep,
    session: SessionDep,
    pools: PoolCatalogDep,
) -> PoolReplicasOut:
    """Set how many worker processes the pool should have, within its `min_replicas` and
    `max_replicas` (else 422); needs role `platform-operator`. The embedded stack starts or
    drains workers to match; a draining worker finishes its in-flight steps first."""
    try:
        replicas = await scale_pool(session, pools, name, body.replicas, principal.api_key_name)
    except UnknownPoolError as exc:
        raise ProblemError(
            404, str(exc), kind="pool-not-found", extra={"pools": exc.known}
        ) from None
    except ReplicasOutOfRangeError as exc:
        raise ProblemError(
            422,
            str(exc),
            kind="replicas-out-of-range",
            extra={"min_replicas": exc.pool.min_replicas, "max_replicas": exc.pool.max_replicas},
        ) from None
    return PoolReplicasOut(pool=name, replicas=replicas)
