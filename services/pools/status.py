"""What an operator sees of each worker pool: backlog and pollers from Temporal's task-queue
description, task counts from Postgres (agents mapped to pools through the catalog), and the
pool's configured limits. Shared by `GET /v1/pools` and `agentry pools`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, DescribeTaskQueueResponse
from temporalio.client import Client

from activities.db.tasks import TaskRepository
from services.agent_catalog import AgentCatalog
from services.pools.catalog import PoolCatalog, PoolSpec
from services.pools.scaling import DesiredReplicas, all_desired

FINISHED_WINDOW = timedelta(hours=1)


class QueueBacklog(BaseModel):
    count: int | None = Field(
        description="Tasks waiting for a worker (Temporal's approximate backlog count); null "
        "when the server does not report task-queue stats."
    )
    oldest_age_seconds: float | None = Field(
        description="How long the oldest waiting task has waited (approximate)."
    )


class PoolBacklog(BaseModel):
    workflow_tasks: QueueBacklog = Field(
        description="Workflow tasks waiting: new tasks to start and running tasks whose next "
        "step waits for a worker."
    )
    activity_tasks: QueueBacklog = Field(
        description="Model calls, tool calls and bookkeeping waiting for a worker."
    )


class PoolLimits(BaseModel):
    max_concurrent_workflow_tasks: int
    max_concurrent_activities: int
    max_concurrent_model_calls: int
    min_replicas: int
    max_replicas: int
    priority: int


class PoolTaskCounts(BaseModel):
    queued: int = 0
    running: int = 0
    waiting_approval: int = 0
    waiting_input: int = 0
    finished_last_hour: int = 0


class PoolStatus(BaseModel):
    name: str
    description: str
    task_queue: str
    agents: list[str] = Field(description="Agents whose tasks run on this pool.")
    backlog: PoolBacklog
    workers_polling: int = Field(
        description="Worker processes Temporal saw polling the pool's queue recently (the "
        "server forgets a stopped poller after a few minutes)."
    )
    replicas: DesiredReplicas = Field(
        description="Worker processes the pool should have (`PUT /v1/pools/{name}/replicas`)."
    )
    tasks: PoolTaskCounts = Field(description="Tasks of the pool's agents, all tenants.")
    limits: PoolLimits


class PoolList(BaseModel):
    items: list[PoolStatus]


async def describe_pools(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    agents: AgentCatalog,
    pools: PoolCatalog,
    now: datetime | None = None,
) -> PoolList:
    by_pool = agents.agents_by_pool()
    since = (now or datetime.now(UTC)) - FINISHED_WINDOW
    async with sessions() as session:
        counts = await TaskRepository(session).count_by_agent(agents.names(), since)
        replicas = await all_desired(session, pools)
    queues = await asyncio.gather(*(_describe_queues(client, pool) for pool in pools))
    items = []
    for pool, (workflow, activity) in zip(pools, queues, strict=True):
        pool_agents = by_pool.get(pool.name, [])
        tasks = PoolTaskCounts()
        for agent in pool_agents:
            for status, count in counts.get(agent, {}).items():
                field = "finished_last_hour" if status == "finished" else status
                if field in PoolTaskCounts.model_fields:
                    setattr(tasks, field, getattr(tasks, field) + count)
        pollers = {p.identity for p in (*workflow.pollers, *activity.pollers)}
        items.append(
            PoolStatus(
                name=pool.name,
                description=pool.description,
                task_queue=pool.task_queue,
                agents=pool_agents,
                backlog=PoolBacklog(
                    workflow_tasks=_backlog(workflow), activity_tasks=_backlog(activity)
                ),
                workers_polling=len(pollers),
                replicas=replicas[pool.name],
                tasks=tasks,
                limits=PoolLimits.model_validate(
                    {**pool.model_dump(), "max_concurrent_model_calls": pool.model_call_limit}
                ),
            )
        )
    return PoolList(items=items)


async def describe_task_queue(
    client: Client, task_queue: str, kind: TaskQueueType.ValueType, *, stats: bool = False
) -> DescribeTaskQueueResponse:
    """Temporal's description of one task queue: its pollers, and its backlog with `stats`."""
    return await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=kind,
            report_stats=stats,
        )
    )


async def _describe_queues(
    client: Client, pool: PoolSpec
) -> tuple[DescribeTaskQueueResponse, DescribeTaskQueueResponse]:
    workflow, activity = await asyncio.gather(
        describe_task_queue(
            client, pool.task_queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, stats=True
        ),
        describe_task_queue(
            client, pool.task_queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, stats=True
        ),
    )
    return workflow, activity


def _backlog(described: DescribeTaskQueueResponse) -> QueueBacklog:
    if not described.HasField("stats"):
        return QueueBacklog(count=None, oldest_age_seconds=None)
    stats = described.stats
    age = stats.approximate_backlog_age
    return QueueBacklog(
        count=stats.approximate_backlog_count,
        oldest_age_seconds=round(age.seconds + age.nanos / 1e9, 3),
    )
