"""A worker process: builds the clients once and runs one Temporal worker per pool it serves."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.approvals import ApprovalActivities
from activities.db.engine import create_engine, create_session_factory
from activities.llm import LlmActivities
from activities.store import StoreActivities
from activities.tool_registry import default_registry
from activities.tools import ToolActivities
from services.settings import Settings
from services.temporal_client import connect_temporal
from workflows.agent_task import AgentTaskWorkflow
from workflows.policies import task_queue_for_pool

logger = logging.getLogger(__name__)

# in-flight activities get this long to finish when the worker is asked to stop
GRACEFUL_SHUTDOWN = timedelta(seconds=30)


def build_workers(
    client: Client,
    pools: list[str],
    store: StoreActivities,
    llm: LlmActivities,
    tools: ToolActivities,
    approvals: ApprovalActivities,
    max_cached_workflows: int = 1000,
) -> list[Worker]:
    activities: list[Callable[..., Any]] = [
        store.begin_task,
        store.set_status,
        store.finish_task,
        llm.model_turn,
        tools.run_tool,
        approvals.request_approvals,
        approvals.expire_approval,
        approvals.notify_approval_requested,
    ]
    return [
        Worker(
            client,
            task_queue=task_queue_for_pool(pool),
            workflows=[AgentTaskWorkflow],
            activities=activities,
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            max_cached_workflows=max_cached_workflows,
        )
        for pool in pools
    ]


async def run_worker(settings: Settings, pools: list[str]) -> None:
    client = await connect_temporal(settings)
    engine = create_engine(settings.resolved_database_url, pool_size=5)
    sessions = create_session_factory(engine)
    registry = default_registry()
    timeout = httpx.Timeout(settings.llm_timeout_seconds, connect=10.0)
    async with (
        httpx.AsyncClient(
            base_url=settings.litellm_url,
            headers={"Authorization": f"Bearer {settings.litellm_key.get_secret_value()}"},
            timeout=timeout,
        ) as http,
        httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as webhooks,
    ):
        workers = build_workers(
            client,
            pools,
            StoreActivities(sessions),
            LlmActivities(sessions, http, registry),
            ToolActivities(sessions, registry, settings.resolved_workspaces_dir),
            ApprovalActivities(sessions, webhooks, settings.approval_webhook_url),
            max_cached_workflows=settings.worker_max_cached_workflows,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        logger.info("worker polling %s", ", ".join(task_queue_for_pool(p) for p in pools))
        runs = [asyncio.create_task(worker.run()) for worker in workers]
        await stop.wait()
        logger.info("worker draining")
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await asyncio.gather(*runs, return_exceptions=True)
    await engine.dispose()
