"""How many worker processes each pool should have, and changing that number.

Operators set it with `PUT /v1/pools/{name}/replicas` or `agentry scale NAME=N`; it is kept in
Postgres so the gateway, the CLI and the embedded supervisor agree. A pool nobody has scaled
wants its `min_replicas`. In Kubernetes the same number is the Deployment's `replicas` in
deploy/k8s, with KEDA moving it between the pool's min and max on the Temporal backlog.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import PoolReplicas
from activities.db.pool_replicas import PoolReplicasRepository
from services.pools.catalog import PoolCatalog, PoolSpec


class UnknownPoolError(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown pool {name!r}; declared pools: {', '.join(known)}")
        self.name, self.known = name, known


class ReplicasOutOfRangeError(ValueError):
    def __init__(self, pool: PoolSpec, replicas: int) -> None:
        super().__init__(
            f"pool {pool.name!r} takes {pool.min_replicas} to {pool.max_replicas} replicas "
            f"(min_replicas/max_replicas in the pools file); {replicas} is outside"
        )
        self.pool, self.replicas = pool, replicas


class DesiredReplicas(BaseModel):
    desired: int = Field(description="Worker processes the pool should have.")
    set_by: str | None = Field(
        description="Who set it (API key name or `cli`); null: the pool's min_replicas."
    )
    set_at: datetime | None = None


def desired_replicas(pool: PoolSpec, row: PoolReplicas | None) -> DesiredReplicas:
    """The operator's number, kept within the pool's bounds should the pools file change."""
    if row is None:
        return DesiredReplicas(desired=pool.min_replicas, set_by=None)
    desired = min(max(row.replicas, pool.min_replicas), pool.max_replicas)
    return DesiredReplicas(desired=desired, set_by=row.updated_by, set_at=row.updated_at)


async def all_desired(session: AsyncSession, pools: PoolCatalog) -> dict[str, DesiredReplicas]:
    rows = await PoolReplicasRepository(session).all()
    return {pool.name: desired_replicas(pool, rows.get(pool.name)) for pool in pools}


async def scale_pool(
    session: AsyncSession, pools: PoolCatalog, name: str, replicas: int, by: str
) -> DesiredReplicas:
    """Record the pool's new desired count and commit. Raises UnknownPoolError or
    ReplicasOutOfRangeError before writing anything."""
    pool = pools.get(name)
    if pool is None:
        raise UnknownPoolError(name, pools.names())
    if not pool.min_replicas <= replicas <= pool.max_replicas:
        raise ReplicasOutOfRangeError(pool, replicas)
    row = await PoolReplicasRepository(session).set(name, replicas, by)
    await session.commit()
    return desired_replicas(pool, row)
