"""A worker process: builds the clients once and runs one Temporal worker per pool it serves,
each within its pool's limits (deploy/pools.yaml)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.answer_checks import AnswerCheckActivities
from activities.approvals import ApprovalActivities
from activities.db.engine import create_engine, create_session_factory
from activities.delegation import DelegationActivities
from activities.lifecycle import LifecycleActivities
from activities.llm import LlmActivities
from activities.memory import MemoryActivities
from activities.model_admission import AdmissionGate, AdmissionLimits
from activities.model_load import ModelLoadMonitor
from activities.skills.library import SkillLibrary
from activities.skills.selection import SkillSelector
from activities.spend_guard import SpendGuard
from activities.task_workspace import WorkspaceQuota
from activities.token_counts import TokenCounter
from activities.tool_calls import ToolCallActivities
from activities.tools.processes import ToolLimits, ToolProcesses
from activities.tools.registry import default_registry
from activities.turn_deltas import DeltaPublisher
from services.model_groups import load_model_prices
from services.pools.catalog import PoolCatalog, PoolSpec
from services.settings import Settings
from services.temporal_client import connect_temporal
from services.temporal_metrics import TemporalSdkMetrics
from services.worker.database_outages import DatabaseOutages
from services.worker.mcp_tools import WorkerMcpTools
from services.worker.metered_admission import MeteredAdmissionGate
from services.worker.metrics import WorkerMetrics
from services.worker.metrics_interceptor import ActivityMetrics
from services.worker.metrics_server import MetricsServer
from services.worker.runner import workflow_runner
from services.worker.sub_agents import agent_configs
from services.worker.trace_export import trace_export
from workflows.agent_task import AgentTaskWorkflow

logger = logging.getLogger(__name__)

HEARTBEAT_FLUSH = timedelta(seconds=1)
STICKY_TIMEOUT = timedelta(seconds=3)

METRICS_TIMEOUT_SECONDS = 2.0  # a model server's metrics slower than this: a failed poll


def activity_methods(*instances: object) -> list[Callable[..., Any]]:
    """Every activity an activity class instance defines, bound to it."""
    methods: list[Callable[..., Any]] = []
    for instance in instances:
        for name in dir(type(instance)):
            method = getattr(instance, name)
            if callable(method) and hasattr(method, "__temporal_activity_definition"):
                methods.append(method)
    return methods


def workflow_tasks_at_once(pool_limit: int, max_cached_workflows: int) -> int:
    """How many workflow tasks a pool's worker runs at once: never more than its cache holds.

    A workflow task that runs local activities (workflows/bookkeeping.py) stays open until they
    finish. When a task of a workflow that is not cached arrives while the cache is full, the
    Temporal core evicts the least recently used workflow even mid-task and cancels its local
    activities, which re-run only after the task times out (10 s), again and again while tasks
    keep arriving. A cache of 0 holds one workflow while its task runs, so that mode runs one
    task at a time; a cache smaller than the pool's limit lowers the limit to the cache's size.
    """
    if max_cached_workflows == 0:
        return 1
    return min(pool_limit, max_cached_workflows)


def build_workers(
    client: Client,
    pools: list[PoolSpec],
    llm_by_pool: Mapping[str, LlmActivities],
    shared: Sequence[object],
    max_cached_workflows: int = 1000,
    graceful_shutdown: timedelta = timedelta(seconds=60),
    metrics: WorkerMetrics | None = None,
) -> list[Worker]:
    """One Temporal worker per pool, polling only that pool's queue, within its limits.

    `llm_by_pool` holds one `LlmActivities` per pool, each with the pool's model-call cap;
    `shared` the other activity classes' instances, used by every pool.
    `graceful_shutdown` is how long in-flight activities may run on after shutdown starts;
    `metrics`, when given, counts every activity (services/worker/metrics_interceptor.py).
    """
    runner = workflow_runner(client.data_converter)
    interceptors: list[Any] = [DatabaseOutages()]
    if metrics is not None:
        interceptors.insert(0, ActivityMetrics(metrics, default_registry().names()))
    workers = []
    for pool in pools:
        activities = activity_methods(llm_by_pool[pool.name], *shared)
        workers.append(
            Worker(
                client,
                task_queue=pool.task_queue,
                workflows=[AgentTaskWorkflow],
                activities=activities,
                max_concurrent_workflow_tasks=workflow_tasks_at_once(
                    pool.max_concurrent_workflow_tasks, max_cached_workflows
                ),
                max_concurrent_activities=pool.max_concurrent_activities,
                graceful_shutdown_timeout=graceful_shutdown,
                max_cached_workflows=max_cached_workflows,
                workflow_runner=runner,
                interceptors=interceptors,
                # heartbeats reach Temporal within a second, well inside policies.HEARTBEAT_TIMEOUT
                max_heartbeat_throttle_interval=HEARTBEAT_FLUSH,
                # a workflow whose worker died moves to the pool's queue after this long
                sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
            )
        )
    return workers


async def run_worker(
    settings: Settings, pool_names: list[str], metrics_port: int | None = None
) -> None:
    """Serve the named pools until SIGTERM/SIGINT, then drain: stop polling, let in-flight
    activities finish within `worker_drain_seconds` (then cancel them), and return.
    /metrics is served on `metrics_port` (default `worker_metrics_port`; 0: not served)."""
    pools = PoolCatalog.load(settings.pools_file).require(pool_names)
    port = settings.worker_metrics_port if metrics_port is None else metrics_port
    metrics = WorkerMetrics()
    sdk = TemporalSdkMetrics.start() if port else None
    client = await connect_temporal(settings, runtime=sdk.runtime if sdk else None)
    server = MetricsServer(metrics, sdk, settings.metrics_token)
    if port:
        server.start(settings.worker_metrics_host, port)
    # as many connections kept as activities may want at once (up to 20): one the pool
    # lets overflow is closed when it comes back, and a new one costs Postgres a process
    activities_at_once = sum(pool.max_concurrent_activities for pool in pools)
    engine = create_engine(settings.resolved_database_url, pool_size=min(20, activities_at_once))
    sessions = create_session_factory(engine)
    registry = default_registry()
    mcp = await WorkerMcpTools.start(settings, registry)  # open: its tools' calls use it
    trace = trace_export(settings, sessions, registry)  # Langfuse, when its keys are set
    tool_processes = ToolProcesses(
        ToolLimits(
            wall_seconds=settings.tool_wall_seconds,
            cpu_seconds=settings.tool_cpu_seconds,
            memory_mb=settings.tool_memory_mb,
        )
    )
    timeout = httpx.Timeout(settings.llm_timeout_seconds, connect=10.0)
    # enough connections for every pool's model calls at once
    limits = httpx.Limits(max_connections=sum(p.model_call_limit for p in pools) + 10)
    deltas = DeltaPublisher.for_database(settings.resolved_database_url)
    deltas.start()
    async with (
        httpx.AsyncClient(
            base_url=settings.litellm_url,
            headers={"Authorization": f"Bearer {settings.litellm_key.get_secret_value()}"},
            timeout=timeout,
            limits=limits,
        ) as http,
        httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as webhooks,
        httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0)) as model_servers,
        watching_model_load(settings, metrics) as admission,
    ):
        tokens = TokenCounter(http, model_servers, settings.resolved_model_server_urls)
        spend = SpendGuard(sessions, load_model_prices(settings.litellm_config))
        llm_by_pool = {
            pool.name: LlmActivities(
                sessions,
                http,
                registry,
                asyncio.Semaphore(pool.model_call_limit),
                admission,
                tokens,
                spend,
                trace=trace,
                deltas=deltas,
            )
            for pool in pools
        }
        sub_agents = agent_configs(settings, registry, mcp.servers.unchecked_prefixes())
        skills = SkillSelector(SkillLibrary.load(settings.skills_dir), settings.packages_dir)
        delegated = {name for agent in sub_agents.values() for name in agent.sub_agents}
        if any(sub_agents[name].choose_skills for name in delegated if name in sub_agents):
            await asyncio.to_thread(skills.warm)  # not in a delegation; else never
        shared = [
            LifecycleActivities(sessions, trace=trace),
            AnswerCheckActivities(sessions, http),
            ToolCallActivities(
                sessions,
                registry,
                tool_processes,
                WorkspaceQuota(settings.workspace_max_bytes, settings.workspace_max_files),
                trace=trace,
            ),
            ApprovalActivities(
                sessions,
                webhooks,
                settings.approval_webhook_url,
                settings.resolved_webhook_secrets,
                settings.webhook_allow_private_targets,
                trace=trace,
            ),
            MemoryActivities(sessions, http, registry, tokens, spend, trace=trace),
            DelegationActivities(
                sessions,
                sub_agents,
                settings.task_budget_limits,
                trace=trace,
                skills=skills,
            ),
        ]
        workers = build_workers(
            client,
            pools,
            llm_by_pool,
            shared,
            max_cached_workflows=settings.worker_max_cached_workflows,
            graceful_shutdown=timedelta(seconds=settings.worker_drain_seconds),
            metrics=metrics,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        logger.info("worker polling %s", ", ".join(pool.task_queue for pool in pools))
        runs = [asyncio.create_task(worker.run()) for worker in workers]
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([stopping, *runs], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        logger.info(
            "worker draining: polling stopped, in-flight activities get %ss",
            settings.worker_drain_seconds,
        )
        await asyncio.gather(*(worker.shutdown() for worker in workers), return_exceptions=True)
        results = await asyncio.gather(*runs, return_exceptions=True)
        logger.info("worker drained")
    await tool_processes.close()
    await mcp.stop()
    await trace.aclose()  # the steps still queued, then the SDK's last batch
    await deltas.stop()
    await engine.dispose()
    server.stop()
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:  # a worker that died on its own (not by signal) is a failure of the process
        raise failures[0]


@contextlib.asynccontextmanager
async def watching_model_load(
    settings: Settings, metrics: WorkerMetrics | None = None
) -> AsyncIterator[AdmissionGate | None]:
    """The process's admission gate, fed by a background poll of the model servers' metrics
    while the context is open, counting its holds in `metrics`; None when no model server has
    a metrics URL."""
    urls = settings.resolved_model_metrics_urls
    if not urls:
        yield None
        return
    poll = settings.model_metrics_poll_seconds
    gate = MeteredAdmissionGate(
        urls,
        AdmissionLimits(
            queue_limit=settings.model_admission_queue_limit,
            kv_usage_limit=settings.model_admission_kv_limit,
            bypass_priority=settings.model_admission_bypass_priority,
            max_hold_seconds=settings.model_admission_max_hold_seconds,
            # a few missed polls in a row: the server's load is unknown, so calls go through
            stale_after_seconds=3 * poll + METRICS_TIMEOUT_SECONDS,
        ),
    )
    if metrics is not None:
        gate.meter(metrics, list(urls))
    # no keep-alive: behind a Service, successive polls reach different replicas
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=METRICS_TIMEOUT_SECONDS, limits=limits) as http:
        monitor = ModelLoadMonitor(urls, http, gate.observe, poll_seconds=poll)
        polling = asyncio.create_task(monitor.run())
        logger.info("admission by model capacity watching %s", ", ".join(sorted(urls)))
        try:
            yield gate
        finally:
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
