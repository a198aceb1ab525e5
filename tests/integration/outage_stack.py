"""A small stack of its own for the outage tests: Postgres, Temporal and a gateway under the
real dev supervisor, on free ports in a temporary dir, reaching the session stack's LiteLLM
proxy and scripted model. The tests kill and restart its Postgres and Temporal, never the
session stack's, so tests running beside them see no outage. Workers are the tests' own
(pool `outage`, tests/outage-stack/pools.yaml)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client

from services.devstack.postgres import postgres_ready
from services.devstack.processes import Child, wait_until
from services.devstack.supervisor import DevStack
from services.settings import Settings
from services.temporal_client import connect_temporal
from tests.integration.helpers import worker_process
from tests.stack import ROOT, RunningStack, free_port

POOL = "outage"
AGENT, CHAT_AGENT = "outage-agent", "outage-chat"
FILES = ROOT / "tests" / "outage-stack"


async def start_outage_stack(shared: RunningStack, base: Path) -> RunningStack:
    agents = base / "agents"
    shutil.copytree(FILES / "agents", agents)
    s = shared.settings
    settings = Settings(
        _env_file=None,
        data_dir=base / "data",
        agents_dir=agents,
        pools_file=FILES / "pools.yaml",
        port=free_port(),
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
        embedded_postgres_port=free_port(),
        embedded_models=False,
        embedded_litellm=False,
        litellm_url=s.litellm_url,
        litellm_key=s.litellm_key,
        litellm_config=s.litellm_config,
        model_server_urls=s.model_server_urls,
        model_server_key=s.model_server_key,
        model_metrics_urls={},
        cancel_wait_seconds=10,
        worker_metrics_port=free_port(block=8),
    )
    stack = DevStack(settings)
    info = await stack.start()
    return RunningStack(settings, stack, info, shared.scripted, [], shared.webhooks_url, base)


@contextlib.asynccontextmanager
async def outage_workers(
    stack: RunningStack, base: Path, *names: str
) -> AsyncIterator[list[Child]]:
    """Workers of pool `outage`, started now and stopped at the end (if still alive)."""
    workers = [worker_process(stack, POOL, name, base) for name in names]
    try:
        for worker in workers:
            await worker.start()
        yield workers
    finally:
        await asyncio.gather(*(worker.stop() for worker in workers))


async def start_worker(stack: RunningStack, base: Path, name: str) -> Child:
    worker = worker_process(stack, POOL, name, base)
    await worker.start()
    return worker


async def sigkill(child: Child, whole_group: bool = False) -> None:
    """SIGKILL, no warning; `whole_group`: with every process it started (Postgres' backends
    die with it, as in a crash of its host)."""
    assert child.process is not None and child.pid is not None
    if whole_group:
        os.killpg(child.pid, signal.SIGKILL)  # children start in a session of their own
    else:
        child.process.kill()
    await child.process.wait()


async def kill_postgres(stack: RunningStack) -> None:
    await sigkill(stack.stack.children["postgres"], whole_group=True)


async def restart_postgres(stack: RunningStack) -> None:
    """On the same data dir: Postgres recovers from its WAL."""
    postgres = stack.stack.children["postgres"]
    await postgres.start()
    port = stack.settings.embedded_postgres_port
    await wait_until(lambda: postgres_ready(port), "postgres", 60, postgres)


async def restart_temporal(stack: RunningStack) -> None:
    """On the same SQLite file (`--db-filename`, services/devstack/temporal.py)."""
    temporal = stack.stack.children["temporal"]
    await temporal.start()

    async def answers() -> bool:
        await connect_temporal(stack.settings)
        return True

    await wait_until(answers, "temporal", 60, temporal)


async def pending(
    client: Client,
    task_id: str,
    activity: str,
    timeout: float = 60,
    min_attempt: int = 1,
    running: bool = True,
) -> PendingActivityInfo:
    """The task's pending `activity` once an attempt numbered `min_attempt` or later runs (or,
    `running=False`, is at least scheduled: a quick failure's retry waits most of the time)."""
    handle = client.get_workflow_handle(f"task-{task_id}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for info in (await handle.describe()).raw_description.pending_activities:
            started = info.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            if (
                info.activity_type.name == activity
                and (started or not running)
                and info.attempt >= min_attempt
            ):
                return info
        await asyncio.sleep(0.1)
    raise AssertionError(f"no attempt {min_attempt}+ of {activity} within {timeout}s")


def kept(info: PendingActivityInfo) -> dict[str, Any] | None:
    """What the activity keeps in its heartbeats (activities/kept_steps.py), if anything."""
    for payload in info.heartbeat_details.payloads:
        detail = json.loads(payload.data)
        if isinstance(detail, dict) and "kept_step" in detail:
            return detail
    return None


async def kept_in_temporal(
    client: Client, task_id: str, activity: str, timeout: float = 30
) -> PendingActivityInfo:
    """The pending `activity` once Temporal holds the outcome it could not record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await pending(client, task_id, activity, timeout)
        if kept(info) is not None:
            return info
        await asyncio.sleep(0.1)
    raise AssertionError(f"{activity} of task {task_id} kept nothing in {timeout}s")
