"""Pool samples: each worker pool's backlog, task counts and workers as the gateway saw them,
every `AGENTRY_POOL_SAMPLE_SECONDS`, kept for a day, so `GET /v1/pools/history` can show how a
pool coped over the last hour. A sample's time is rounded down to the interval: two gateways
sampling at once write one row. In models.Base's metadata (activities/db/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from activities.db.models import Base


class PoolSample(Base):
    __tablename__ = "pool_samples"

    pool: Mapped[str] = mapped_column(String(200), primary_key=True)
    sampled_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, index=True
    )
    backlog: Mapped[int | None] = mapped_column(Integer)  # workflow + activity tasks; null: unknown
    queued: Mapped[int] = mapped_column(Integer)
    running: Mapped[int] = mapped_column(Integer)
    waiting: Mapped[int] = mapped_column(Integer)  # for an approval or the next message
    workers: Mapped[int] = mapped_column(Integer)  # polling the pool's queue
    replicas: Mapped[int] = mapped_column(Integer)  # desired


@dataclass(frozen=True)
class PoolFigures:
    pool: str
    backlog: int | None
    queued: int
    running: int
    waiting: int
    workers: int
    replicas: int


class PoolSampleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, sampled_at: datetime, figures: list[PoolFigures]) -> int:
        """Store one sample per pool at this time; a pool already sampled then keeps its row."""
        if not figures:
            return 0
        statement = (
            insert(PoolSample)
            .values([{"sampled_at": sampled_at, **figure.__dict__} for figure in figures])
            .on_conflict_do_nothing(index_elements=["pool", "sampled_at"])
        )
        result = await self._session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    async def since(self, start: datetime) -> list[PoolSample]:
        """Every pool's samples from `start` on, oldest first."""
        statement = (
            select(PoolSample)
            .where(PoolSample.sampled_at >= start)
            .order_by(PoolSample.pool, PoolSample.sampled_at)
        )
        return list((await self._session.scalars(statement)).all())

    async def delete_before(self, cutoff: datetime) -> None:
        await self._session.execute(delete(PoolSample).where(PoolSample.sampled_at < cutoff))
