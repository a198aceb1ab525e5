"""Desired worker replicas per pool: what operators asked for, read by the embedded
supervisor's fleet (and shown by `GET /v1/pools`)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import PoolReplicas


class PoolReplicasRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all(self) -> dict[str, PoolReplicas]:
        rows = await self._session.scalars(select(PoolReplicas))
        return {row.pool: row for row in rows}

    async def set(self, pool: str, replicas: int, updated_by: str | None) -> PoolReplicas:
        """Upsert the pool's desired count (the caller commits)."""
        statement = (
            insert(PoolReplicas)
            .values(pool=pool, replicas=replicas, updated_by=updated_by)
            .on_conflict_do_update(
                index_elements=[PoolReplicas.pool],
                set_={"replicas": replicas, "updated_by": updated_by, "updated_at": func.now()},
            )
            .returning(PoolReplicas)
            .execution_options(populate_existing=True)
        )
        return (await self._session.scalars(statement)).one()
