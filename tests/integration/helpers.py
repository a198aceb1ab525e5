"""Small helpers for tests that drive the running stack over REST."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from activities.db.tasks import NewTask, TaskRepository
from activities.db.tenants import TenantRepository
from services.agent_specs import AgentSpecError
from services.devstack.processes import Child, ChildSpec
from services.gateway.app import create_app
from tests.stack import RunningStack

FINAL = {"succeeded", "failed", "cancelled"}


async def gateway_refusal(stack: RunningStack, agents: Path) -> str:
    """Why a gateway on the stack reading its specs from `agents` refuses to start."""
    app = create_app(stack.settings.model_copy(update={"agents_dir": agents}))
    with pytest.raises(AgentSpecError) as caught:
        async with app.router.lifespan_context(app):
            pass
    return str(caught.value)


async def submit(api: httpx.AsyncClient, agent: str, text: str, **extra: Any) -> dict[str, Any]:
    response = await api.post("/v1/tasks", json={"agent": agent, "input": text, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for_status(
    api: httpx.AsyncClient, task_id: str, statuses: set[str] = FINAL, timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await api.get(f"/v1/tasks/{task_id}")
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()
        if task["status"] in statuses:
            return task
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} still {task['status']} after {timeout}s")
        await asyncio.sleep(0.1)


async def events(api: httpx.AsyncClient, task_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/tasks/{task_id}/events")
    assert response.status_code == 200, response.text
    body = response.json()
    items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return items


async def until_event(api: httpx.AsyncClient, task_id: str, kind: str, timeout: float = 60) -> None:
    """Wait until the task has recorded an event of type `kind`."""
    deadline = time.monotonic() + timeout
    while not any(e["type"] == kind for e in await events(api, task_id)):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} event within {timeout}s")
        await asyncio.sleep(0.1)


async def messages(api: httpx.AsyncClient, task_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/tasks/{task_id}/messages")
    assert response.status_code == 200, response.text
    body = response.json()
    items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return items


async def served_at_least(stack: RunningStack, key: str, count: int, timeout: float = 60) -> None:
    """Wait until the scripted model has received `count` requests for this script."""
    deadline = time.monotonic() + timeout
    while (await stack.scripted.status(key))["served"] < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the model got fewer than {count} requests in {timeout}s")
        await asyncio.sleep(0.05)


async def new_task_row(sessions: async_sessionmaker[AsyncSession], tenant_prefix: str) -> uuid.UUID:
    """A task row of a new tenant, with no workflow behind it (for activity tests)."""
    async with sessions.begin() as session:
        tenant = await TenantRepository(session).get_or_create(
            f"{tenant_prefix}-{uuid.uuid4().hex[:8]}"
        )
        task_id = uuid.uuid4()
        await TaskRepository(session).create(
            NewTask(tenant_id=tenant.id, agent="a", input="x", metadata={},
                    workflow_id=f"task-{task_id}", id=task_id)
        )  # fmt: skip
    return task_id


def worker_process(
    stack: RunningStack, pool: str, name: str, base: Path, **env_overrides: str
) -> Child:
    """A worker of `pool` that the test starts and stops (or kills) itself, with its own data
    dir, as on another host; `env_overrides` are more AGENTRY_* settings of its own. It serves
    no /metrics (the fleet's workers hold those ports)."""
    env = {
        **stack.settings.as_env(),
        "AGENTRY_DATA_DIR": str(base / name),
        "AGENTRY_WORKER_METRICS_PORT": "0",
        **env_overrides,
    }
    argv = [sys.executable, "-m", "services.cli", "worker", "--pool", pool]
    return Child(ChildSpec(name=name, argv=argv, log_file=base / f"{name}.log", env=env))


def activity_attempts(history: WorkflowHistory, activity_type: str) -> list[int]:
    """The attempt number of each start of `activity_type` in a workflow's history, regular
    (ActivityTaskStarted) or local (its marker: quick tools, bookkeeping), in history order."""
    scheduled: dict[int, str] = {}
    attempts: list[int] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if scheduled[started.scheduled_event_id] == activity_type:
                attempts.append(started.attempt)
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                data = json.loads(marker.details["data"].payloads[0].data)
                if data["activity_type"] == activity_type:
                    attempts.append(data["attempt"])
    return attempts


async def run_module(
    stack: RunningStack, module: str, *args: str, timeout: float = 180
) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `python -m MODULE ARGS` against this stack's settings."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args,
        env={**os.environ, **stack.settings.as_env()},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
