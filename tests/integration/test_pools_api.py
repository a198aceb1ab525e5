"""GET /v1/pools: operators (and admins) see each pool's backlog from Temporal, its tasks from
Postgres and its configured limits, and GET /v1/pools/history the gateway's samples of them;
other roles get a 403. A worker process builds one Temporal
worker per pool it serves, on that pool's queue, within that pool's limits."""

from __future__ import annotations

import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.approvals import ApprovalActivities
from activities.db.models import Task
from activities.db.pool_samples import PoolFigures, PoolSampleRepository
from activities.db.tasks import NewTask, TaskRepository
from activities.db.tenants import TenantRepository
from activities.lifecycle import LifecycleActivities
from activities.llm import LlmActivities
from activities.tool_calls import ToolCallActivities
from activities.tools.registry import default_registry
from services.agent_catalog import AgentCatalog
from services.gateway.pool_sampler import PoolSampler, sample_time
from services.pools.catalog import PoolCatalog
from services.pools.status import describe_pools
from services.roles import Role
from services.settings import Settings
from services.worker.process import build_workers
from tests.conftest import MakeApi


async def test_platform_operators_see_every_pool_with_its_limits(make_api: MakeApi) -> None:
    api = await make_api(role=Role.platform_operator)
    response = await api.get("/v1/pools")
    assert response.status_code == 200, response.text
    pools = {pool["name"]: pool for pool in response.json()["items"]}
    default = pools["default"]
    assert default["task_queue"] == "agentry-default"
    assert "assistant" in default["agents"]
    assert default["limits"] == {
        "max_concurrent_workflow_tasks": 50,
        "max_concurrent_activities": 50,
        "max_concurrent_model_calls": 50,  # unset in deploy/pools.yaml: as many as activities
        "min_replicas": 1,
        "max_replicas": 4,
        "priority": 3,
    }
    assert set(default["backlog"]) == {"workflow_tasks", "activity_tasks"}
    assert isinstance(default["backlog"]["workflow_tasks"]["count"], int)
    assert set(default["tasks"]) >= {"running", "waiting_approval", "finished_last_hour"}


@pytest.mark.parametrize("role", [Role.submitter, Role.approver, Role.operator, Role.admin])
async def test_tenant_roles_may_not_see_pools(make_api: MakeApi, role: Role) -> None:
    api = await make_api(role=role)
    response = await api.get("/v1/pools")
    assert response.status_code == 403
    problem = response.json()
    assert problem["allowed_roles"] == ["platform-operator"]
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unauthenticated_callers_get_401(make_api: MakeApi) -> None:
    api = await make_api(key="")
    assert (await api.get("/v1/pools")).status_code == 401


async def test_the_history_holds_each_pools_samples_for_platform_operators(
    make_api: MakeApi, gateway_app: FastAPI
) -> None:
    state = gateway_app.state
    sampler = PoolSampler(
        state.session_factory,
        state.temporal_client,
        state.agent_catalog,
        state.pool_catalog,
        interval_seconds=15,
    )
    await sampler.run_once()  # what the gateway's own sampler does every 15 s
    operator = await make_api(role=Role.platform_operator)
    admin = await make_api(role=Role.admin)
    response = await operator.get("/v1/pools/history", params={"minutes": 60})
    refused = await admin.get("/v1/pools/history")
    too_far = await operator.get("/v1/pools/history", params={"minutes": 24 * 60 + 1})

    assert response.status_code == 200, response.text
    history = {pool["name"]: pool["samples"] for pool in response.json()["items"]}
    assert set(history) == {"default"}  # deploy/pools.yaml's pools
    sample = history["default"][-1]
    assert set(sample) == {"at", "backlog", "queued", "running", "waiting", "workers", "replicas"}
    assert sample["replicas"] == 1  # deploy/pools.yaml's min_replicas: nobody scaled it
    at = datetime.fromisoformat(sample["at"])
    assert at.timestamp() % 15 == 0  # rounded down to the step: replicas agree on one row
    assert response.json()["step_seconds"] == 15
    assert refused.status_code == 403
    assert too_far.status_code == 422


async def test_samples_taken_at_once_by_two_gateways_are_stored_once(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    at = sample_time(now - timedelta(days=2), 15)  # older than the day samples are kept
    figures = PoolFigures(
        pool=pool, backlog=None, queued=1, running=2, waiting=3, workers=1, replicas=1
    )
    async with db_sessions.begin() as session:
        stored = await PoolSampleRepository(session).record(at, [figures])
    async with db_sessions.begin() as session:
        again = await PoolSampleRepository(session).record(at, [figures])
    async with db_sessions.begin() as session:
        samples = PoolSampleRepository(session)
        kept = [row for row in await samples.since(at - timedelta(minutes=1)) if row.pool == pool]
        await samples.delete_before(now - timedelta(days=1))  # as the sampler does
        gone = [row for row in await samples.since(at - timedelta(minutes=1)) if row.pool == pool]
    assert (stored, again) == (1, 0)
    assert [(row.running, row.waiting, row.backlog) for row in kept] == [(2, 3, None)]
    assert gone == []


async def test_backlog_comes_from_temporal_and_task_counts_from_postgres(
    tmp_path: Path,
    temporal_client: Client,
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    suffix = uuid.uuid4().hex[:8]
    pool, agent = f"probe-{suffix}", f"probe-agent-{suffix}"
    (tmp_path / "pools.yaml").write_text(
        textwrap.dedent(
            f"""\
            pools:
              - name: default
              - name: {pool}
                max_concurrent_model_calls: 3
            """
        )
    )
    agents_dir = tmp_path / "agents"
    agents_dir.mkdir()
    (agents_dir / "probe.yaml").write_text(f"name: {agent}\npool: {pool}\n")
    pools = PoolCatalog.load(tmp_path / "pools.yaml")
    agents = AgentCatalog.load(agents_dir, pools=pools.names())

    # two tasks waiting on the pool's queue, which no worker polls
    for n in range(2):
        await temporal_client.start_workflow(
            "AgentTaskWorkflow", id=f"probe-{suffix}-{n}", task_queue=f"agentry-{pool}"
        )
    now = datetime.now(UTC)
    statuses = ["running", "running", "waiting_approval", "succeeded", "failed", "queued"]
    async with db_sessions.begin() as session:
        tenant = await TenantRepository(session).get_or_create(f"tenant-{suffix}")
        for n, status in enumerate([*statuses, "succeeded"]):
            task, _ = await TaskRepository(session).create(
                NewTask(tenant.id, agent, "x", {}, workflow_id=f"wf-{suffix}-{n}")
            )
            finished = now - timedelta(hours=2) if n == len(statuses) else now
            await session.execute(
                update(Task)
                .where(Task.id == task.id)
                .values(
                    status=status,
                    finished_at=finished if status in {"succeeded", "failed"} else None,
                )
            )

    described = await describe_pools(temporal_client, db_sessions, agents, pools)
    [probe] = [item for item in described.items if item.name == pool]
    assert probe.agents == [agent]
    assert probe.backlog.workflow_tasks.count == 2
    assert (probe.backlog.workflow_tasks.oldest_age_seconds or 0) > 0
    assert probe.backlog.activity_tasks.count == 0
    assert probe.workers_polling == 0
    counts = probe.tasks
    assert (counts.running, counts.waiting_approval, counts.queued) == (2, 1, 1)
    assert counts.finished_last_hour == 2  # the one finished two hours ago is not counted
    assert probe.limits.max_concurrent_model_calls == 3


async def test_each_pool_gets_a_worker_on_its_queue_with_its_limits(
    tmp_path: Path, temporal_client: Client
) -> None:
    (tmp_path / "pools.yaml").write_text(
        "pools:\n  - name: default\n  - name: batch\n    max_concurrent_workflow_tasks: 3\n"
        "    max_concurrent_activities: 2\n    max_concurrent_model_calls: 1\n"
    )
    pools = PoolCatalog.load(tmp_path / "pools.yaml").require(["default", "batch"])
    nothing: Any = None
    llm_by_pool = {pool.name: LlmActivities(nothing, nothing, default_registry()) for pool in pools}
    shared = [
        LifecycleActivities(nothing),
        ToolCallActivities(nothing, default_registry()),
        ApprovalActivities(nothing, nothing, None),
    ]
    workers = build_workers(
        temporal_client,
        pools,
        llm_by_pool,
        shared,
        graceful_shutdown=timedelta(seconds=7),
    )
    configs = [worker.config() for worker in workers]
    assert [c["task_queue"] for c in configs] == ["agentry-default", "agentry-batch"]
    batch = configs[1]
    assert (batch["max_concurrent_workflow_tasks"], batch["max_concurrent_activities"]) == (3, 2)
    assert batch["graceful_shutdown_timeout"] == timedelta(seconds=7)
    batch_turn = next(a for a in batch["activities"] if getattr(a, "__name__", "") == "model_turn")
    assert batch_turn.__self__ is llm_by_pool["batch"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("cache", "at_once"), [(0, [1, 1]), (2, [2, 2]), (40, [40, 3])])
async def test_a_pool_never_runs_more_workflow_tasks_at_once_than_its_cache_holds(
    tmp_path: Path, temporal_client: Client, cache: int, at_once: list[int]
) -> None:
    # a workflow evicted while its task runs loses its local activities (process.py)
    wide, narrow = f"wide-{uuid.uuid4().hex[:8]}", f"narrow-{uuid.uuid4().hex[:8]}"
    (tmp_path / "pools.yaml").write_text(
        f"pools:\n  - name: default\n  - name: {wide}\n"
        f"  - name: {narrow}\n    max_concurrent_workflow_tasks: 3\n"
    )
    pools = PoolCatalog.load(tmp_path / "pools.yaml").require([wide, narrow])
    nothing: Any = None
    llm_by_pool = {pool.name: LlmActivities(nothing, nothing, default_registry()) for pool in pools}
    workers = build_workers(temporal_client, pools, llm_by_pool, [], max_cached_workflows=cache)
    assert [w.config()["max_concurrent_workflow_tasks"] for w in workers] == at_once


def test_a_workflow_cache_of_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="0 \\(no cache\\) or at least 2"):
        Settings(worker_max_cached_workflows=1)
