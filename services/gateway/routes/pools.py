"""/v1/pools: each worker pool's backlog, workers, task counts and limits, and scaling a pool's
workers, for operators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from activities.db.pool_samples import PoolSampleRepository
from services.gateway.deps import (
    AgentCatalogDep,
    PlatformOperatorDep,
    PoolCatalogDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
    TemporalDep,
)
from services.gateway.errors import ProblemError, problem_responses
from services.gateway.schemas.pools import (
    PoolHistory,
    PoolHistoryList,
    PoolReplicasOut,
    PoolSampleOut,
    ReplicasUpdate,
)
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


@router.get("/history", summary="The pools' figures over time")
async def pool_history(
    principal: PlatformOperatorDep,
    session: SessionDep,
    pools: PoolCatalogDep,
    settings: SettingsDep,
    minutes: Annotated[
        int, Query(ge=1, le=24 * 60, description="How far back to go (at most a day).")
    ] = 60,
) -> PoolHistoryList:
    """Per pool, oldest first: backlog, tasks queued, running and waiting, workers polling and
    the replicas wanted, as the gateway sampled them every `AGENTRY_POOL_SAMPLE_SECONDS`
    (15 s by default; samples are kept for a day). Needs role `platform-operator`."""
    end = datetime.now(UTC)
    start = end - timedelta(minutes=minutes)
    by_pool: dict[str, list[PoolSampleOut]] = {pool.name: [] for pool in pools}
    for row in await PoolSampleRepository(session).since(start):
        if row.pool in by_pool:  # a pool since removed from the pools file is not shown
            by_pool[row.pool].append(
                PoolSampleOut(
                    at=row.sampled_at,
                    backlog=row.backlog,
                    queued=row.queued,
                    running=row.running,
                    waiting=row.waiting,
                    workers=row.workers,
                    replicas=row.replicas,
                )
            )
    return PoolHistoryList(
        step_seconds=settings.pool_sample_seconds,
        start=start,
        end=end,
        items=[PoolHistory(name=name, samples=samples) for name, samples in by_pool.items()],
    )


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
