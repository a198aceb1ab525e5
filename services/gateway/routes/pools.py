"""/v1/pools: each worker pool's backlog, workers, task counts and limits, and scaling a pool's
workers, for operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from services.gateway.deps import (
    CatalogDep,
    OperatorDep,
    PoolCatalogDep,
    SessionDep,
    SessionFactoryDep,
    TemporalDep,
)
from services.gateway.errors import ProblemError, problem_responses
from services.pool_scaling import (
    DesiredReplicas,
    ReplicasOutOfRangeError,
    UnknownPoolError,
    scale_pool,
)
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


class ReplicasUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"replicas": 3}]})

    replicas: int = Field(
        ge=0, description="Worker processes for the pool, within its min_replicas..max_replicas."
    )


class PoolReplicasOut(BaseModel):
    pool: str
    replicas: DesiredReplicas


@router.put(
    "/{name}/replicas",
    summary="Scale a pool's workers",
    responses=problem_responses(404, 422),
)
async def set_replicas(
    name: Annotated[str, Path(description="The pool's name (see GET /v1/pools).")],
    body: ReplicasUpdate,
    principal: OperatorDep,
    session: SessionDep,
    pools: PoolCatalogDep,
) -> PoolReplicasOut:
    """Set how many worker processes the pool should have. The embedded stack's supervisor
    starts or drains workers to match within a second or two; draining workers finish their
    in-flight activities first. Needs role operator or admin."""
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
