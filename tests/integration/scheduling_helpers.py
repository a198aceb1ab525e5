"""A gateway with its own worker pool on the session's Temporal and Postgres, and a worker for
that pool whose model the test holds and releases, so scheduling tests decide when each task's
turn ends instead of waiting on timings.

The worker runs the real workflow and the real bookkeeping activities (begin_task admits under
the tenant's cap); only the model turn is a stand-in.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.db.models import Task
from activities.lifecycle import LifecycleActivities
from services.gateway.app import create_app
from services.key_service import create_api_key
from services.pools.catalog import PoolCatalog
from services.settings import Settings
from services.worker.process import build_workers
from workflows.contracts.model_turns import ModelTurnRequest, ModelTurnResult

Sessions = async_sessionmaker[AsyncSession]

AGENT = "scheduled"
POOL_PRIORITY = 4  # the test pool's default task priority


@dataclass
class HeldModel:
    """Stands in for the model: each task's turn answers only once the test releases it
    (`hold=False`: at once). Heartbeats while held, as a real model turn does."""

    hold: bool = True
    turns_started: list[str] = field(default_factory=list)
    _gates: dict[str, asyncio.Event] = field(default_factory=dict)

    def gate(self, task_id: str) -> asyncio.Event:
        return self._gates.setdefault(task_id, asyncio.Event())

    def release(self, *task_ids: str) -> None:
        for task_id in task_ids:
            self.gate(task_id).set()

    @activity.defn(name="model_turn")
    async def model_turn(self, request: ModelTurnRequest) -> ModelTurnResult:
        self.turns_started.append(request.task_id)
        gate = self.gate(request.task_id)
        while self.hold and not gate.is_set():
            activity.heartbeat()
            try:
                await asyncio.wait_for(gate.wait(), timeout=1)
            except TimeoutError:
                pass
        return ModelTurnResult(message_id=request.message_ids[-1], final_text="done")


@dataclass
class SchedulingGateway:
    """A gateway whose only agent runs on a pool of its own (queue `agentry-<pool>`)."""

    app_settings: Settings
    pool: str
    sessions: Sessions
    temporal: Client
    _transport: httpx.ASGITransport

    async def api(self, tenant: str | None = None) -> httpx.AsyncClient:
        """A client for `tenant` (default: a new one), with an admin key."""
        key = await create_api_key(
            self.sessions, tenant or f"tenant-{uuid.uuid4().hex[:12]}", role="admin"
        )
        return httpx.AsyncClient(
            transport=self._transport,
            base_url="http://gateway",
            headers={"Authorization": f"Bearer {key}"},
        )

    def worker(self, model: HeldModel, max_cached_workflows: int = 1000) -> Worker:
        """This gateway's pool's worker, built as `agentry worker` builds it: the real workflow
        and bookkeeping, `model`'s turns."""
        [pool] = PoolCatalog.load(self.app_settings.pools_file).require([self.pool])
        [worker] = build_workers(
            self.temporal,
            [pool],
            {pool.name: model},
            [LifecycleActivities(self.sessions)],
            max_cached_workflows=max_cached_workflows,
        )
        return worker


@asynccontextmanager
async def scheduling_gateway(
    base: Path, settings: Settings, sessions: Sessions, temporal: Client, **overrides: Any
) -> AsyncIterator[SchedulingGateway]:
    """`overrides` are Settings fields, e.g. `tenant_over_cap="reject"`."""
    pool = f"sched-{uuid.uuid4().hex[:8]}"
    (base / "agents").mkdir()
    # a spec of its own (its pool) on the shared database: a version of its own, as a changed
    # spec must have (services/gateway/agent_versions.py)
    version = uuid.uuid4().int % 1_000_000 + 1
    (base / "agents" / f"{AGENT}.yaml").write_text(
        f"name: {AGENT}\nversion: {version}\npool: {pool}\nmodel: scripted\n"
        "tool_call_format: native\n"
        "max_iterations: 2\nsystem_prompt: You are a test agent.\n"
    )
    (base / "pools.yaml").write_text(
        f"pools:\n  - name: default\n  - name: {pool}\n    priority: {POOL_PRIORITY}\n"
    )
    app_settings = settings.model_copy(
        update={
            "agents_dir": base / "agents",
            "pools_file": base / "pools.yaml",
            # where the `scripted` model group is declared, with its context budget
            "litellm_config": Path(__file__).parents[1] / "litellm-test-config.yaml",
            "cancel_wait_seconds": 10.0,
            **overrides,
        }
    )
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        yield SchedulingGateway(
            app_settings, pool, sessions, temporal, httpx.ASGITransport(app=app)
        )


async def submit(api: httpx.AsyncClient, key: str | None = None, **body: Any) -> httpx.Response:
    """POST /v1/tasks for the test agent; `key` is sent as the Idempotency-Key."""
    headers = {"Idempotency-Key": key} if key else {}
    return await api.post(
        "/v1/tasks", json={"agent": AGENT, "input": "work", **body}, headers=headers
    )


async def submitted(api: httpx.AsyncClient, key: str | None = None, **body: Any) -> str:
    response = await submit(api, key, **body)
    assert response.status_code == 201, response.text
    task_id: str = response.json()["id"]
    return task_id


async def task_rows(sessions: Sessions, task_ids: list[str]) -> list[Task]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Task).where(Task.id.in_([uuid.UUID(t) for t in task_ids]))
        )
        by_id = {str(row.id): row for row in rows}
    return [by_id[t] for t in task_ids]


async def until(
    check: Callable[[], Any], what: str, timeout: float = 60, interval: float = 0.05
) -> None:
    """Poll `check` (sync or async, truthy when done) until it holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(interval)
