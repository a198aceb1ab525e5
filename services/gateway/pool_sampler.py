"""Samples every worker pool's figures (`GET /v1/pools`) into Postgres every so often, so
`GET /v1/pools/history` can show the last hour; samples older than a day are deleted. Each
gateway replica runs one; a sample's time is rounded down to the interval, so replicas
sampling in the same interval store one row per pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.db.pool_samples import PoolFigures, PoolSampleRepository
from services.agent_catalog import AgentCatalog
from services.gateway.periodic import PeriodicJob
from services.pools.catalog import PoolCatalog
from services.pools.status import PoolStatus, describe_pools

KEEP_FOR = timedelta(days=1)


class PoolSampler(PeriodicJob):
    name = "pool sampler"
    done_message = "pool sampler stored %d sample(s)"

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        client: Client,
        agents: AgentCatalog,
        pools: PoolCatalog,
        *,
        interval_seconds: float,
    ) -> None:
        super().__init__(interval_seconds)
        self._sessions = session_factory
        self._client = client
        self._agents = agents
        self._pools = pools

    async def run_once(self) -> int:
        now = datetime.now(UTC)
        described = await describe_pools(self._client, self._sessions, self._agents, self._pools)
        async with self._sessions.begin() as session:
            samples = PoolSampleRepository(session)
            await samples.record(
                sample_time(now, self._interval), [figures(pool) for pool in described.items]
            )
            await samples.delete_before(now - KEEP_FOR)
        return 0  # every pass stores a sample: nothing worth a log line

    def pause(self) -> float:
        """Until the next step boundary, so each step gets its sample."""
        step = max(int(self._interval), 1)
        return step - datetime.now(UTC).timestamp() % step


def sample_time(now: datetime, interval_seconds: float) -> datetime:
    """`now` rounded down to a multiple of the interval (whole seconds, at least one)."""
    step = max(int(interval_seconds), 1)
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, UTC)


def figures(pool: PoolStatus) -> PoolFigures:
    counts = (pool.backlog.workflow_tasks.count, pool.backlog.activity_tasks.count)
    backlog = None if None in counts else sum(c for c in counts if c is not None)
    return PoolFigures(
        pool=pool.name,
        backlog=backlog,
        queued=pool.tasks.queued,
        running=pool.tasks.running,
        waiting=pool.tasks.waiting_approval + pool.tasks.waiting_input,
        workers=pool.workers_polling,
        replicas=pool.replicas.desired,
    )
