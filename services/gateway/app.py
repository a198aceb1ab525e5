"""The FastAPI app. The lifespan opens the clients once (database engine, the decision
repository's pool, Temporal client) and loads the catalogs (agents, tools, pools); they live on
`app.state` and routes reach them through services/gateway/deps.py. The decision outbox
(re-sending approval decisions), the task reconciler (finalising tasks whose workflow closed
without saying so) and, when configured, the retention job run beside them for the app's
lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from activities.db.decisions import DecisionRepository
from activities.db.engine import create_engine, create_session_factory
from activities.skills.library import SkillLibrary
from activities.skills.selection import SkillSelector
from activities.token_counts import TokenCounter
from activities.tools.catalog import ToolCatalog
from services.agent_catalog import AgentCatalog
from services.gateway.agent_versions import record_versions
from services.gateway.decision_outbox import DecisionOutbox
from services.gateway.errors import PROBLEM_CONTENT_TYPE, install_error_handlers
from services.gateway.http_metrics import HttpMetrics
from services.gateway.metrics import GatewayMetrics, LiveGauges
from services.gateway.openai_errors import OPENAI_PATHS
from services.gateway.pool_sampler import PoolSampler
from services.gateway.request_guard import RequestGuard
from services.gateway.retention import RetentionJob
from services.gateway.routes import (
    agents,
    approvals,
    chat_completions,
    health,
    keys,
    metrics,
    pools,
    responses,
    spend,
    task_list,
    task_records,
    tasks,
    ui,
    usage,
)
from services.gateway.task_feed import TaskFeed
from services.gateway.task_reconciler import TaskReconciler
from services.mcp_servers import open_mcp_servers
from services.model_groups import load_model_groups
from services.pools.catalog import PoolCatalog
from services.settings import Settings, get_settings
from services.temporal_client import connect_temporal
from services.temporal_metrics import TemporalSdkMetrics

DESCRIPTION = """\
Run AI agents as durable tasks. Submit a task with `POST /v1/tasks`, then poll
`GET /v1/tasks/{id}` (or read its events) until its status is final.

Tool calls an agent's policy marks as risky wait for a human: approvers find them with
`GET /v1/approvals` and decide with `POST /v1/approvals/{id}/decision`.

Every `/v1` endpoint needs an API key: `Authorization: Bearer agk_...`. Any key may read;
submitting, cancelling and messaging tasks needs the role `submitter`, `operator` or `admin`;
deciding approvals needs `approver` or `admin`; `GET /v1/pools` needs `operator` or `admin`.
Errors are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) `application/problem+json`.
"""


async def _tool_catalog(settings: Settings) -> tuple[ToolCatalog, list[str]]:
    """The built-in tools' schemas and those the declared MCP servers list now; and the
    `<server>__` prefixes of the servers that did not answer, whose tools go unchecked."""
    mcp = await open_mcp_servers(settings)
    try:
        return ToolCatalog.load().including(mcp.tools), mcp.unchecked_prefixes()
    finally:
        await mcp.aclose()  # the gateway never calls a tool


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    database_url = settings.resolved_database_url
    if settings.migrate_on_start:  # off: the deploy step or the dev supervisor migrates
        from activities.db.migrations import upgrade_database  # alembic: only when needed

        await asyncio.to_thread(upgrade_database, database_url)

    state = app.state
    # agents must name tools that exist, with approval rules on arguments the tools take
    tools, unchecked = await _tool_catalog(settings)
    state.tool_catalog = tools
    # every agent must name a declared pool, else its tasks would wait on a queue nobody polls
    state.pool_catalog = pools = PoolCatalog.load(settings.pools_file)
    # and a model group the LiteLLM config declares, whose context budget their tasks get
    skills = SkillLibrary.load(settings.skills_dir)
    state.agent_catalog = catalog = AgentCatalog.load(
        settings.agents_dir,
        tool_schemas=tools.parameter_schemas(),
        side_effect_tools=tools.side_effect_names(),
        pools=pools.names(),
        local_turn_pools=pools.local_turn_pools(),
        model_groups=load_model_groups(settings.litellm_config),
        skills=skills,
        unchecked_prefixes=unchecked,  # of MCP servers that did not answer: logged
    )
    state.skill_selector = SkillSelector(skills, settings.packages_dir)
    if any(spec.choose_skills for spec in catalog.specs()):  # a bad model file stops the start
        await asyncio.to_thread(state.skill_selector.warm)
    async with contextlib.AsyncExitStack() as opened:
        proxy = httpx.AsyncClient(
            base_url=settings.litellm_url,
            headers={"Authorization": f"Bearer {settings.litellm_key.get_secret_value()}"},
            timeout=httpx.Timeout(10.0),
        )
        opened.push_async_callback(proxy.aclose)
        model_servers = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        opened.push_async_callback(model_servers.aclose)
        # inputs too long for their agent's model are refused at submit
        state.token_counter = TokenCounter(
            proxy, model_servers, settings.resolved_model_server_urls
        )
        engine = create_engine(database_url)
        opened.push_async_callback(engine.dispose)
        state.session_factory = session_factory = create_session_factory(engine)
        async with session_factory() as session:  # a changed spec must raise its version
            await record_versions(session, state.agent_catalog)
        state.metrics.live.attach(session_factory, state.agent_catalog.names())
        state.decision_repository = decisions = await DecisionRepository.open(database_url)
        opened.push_async_callback(decisions.close)
        state.task_feed = feed = TaskFeed(database_url)
        feed.start()
        opened.push_async_callback(feed.stop)
        # the SDK's client metrics (RPC latencies and failures) join the gateway's /metrics
        state.metrics.sdk = sdk = TemporalSdkMetrics.start()
        runtime = sdk.runtime if sdk is not None else None
        state.temporal_client = client = await connect_temporal(settings, runtime=runtime)
        state.decision_outbox = outbox = DecisionOutbox(
            session_factory, client, settings.approval_resignal_seconds
        )
        outbox.start()
        opened.push_async_callback(outbox.stop)
        reconciler = TaskReconciler(
            session_factory,
            client,
            quiet_for=timedelta(seconds=settings.reconcile_quiet_seconds),
            interval_seconds=settings.reconcile_interval_seconds,
        )
        reconciler.start()
        opened.push_async_callback(reconciler.stop)
        sampler = PoolSampler(
            session_factory,
            client,
            state.agent_catalog,
            pools,
            interval_seconds=settings.pool_sample_seconds,
        )
        sampler.start()
        opened.push_async_callback(sampler.stop)
        if settings.retention_days is not None:
            retention = RetentionJob(
                session_factory,
                keep_for=timedelta(days=settings.retention_days),
                interval_seconds=settings.retention_interval_seconds,
                batch_size=settings.retention_batch_size,
            )
            retention.start()
            opened.push_async_callback(retention.stop)
        yield


def _openapi_with_problem_media_type(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Error answers are documented as application/problem+json, the type they are sent as."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            for path, operations in schema.get("paths", {}).items():
                if path.startswith(OPENAI_PATHS):  # OpenAI's error shape, as JSON
                    continue
                for operation in operations.values():
                    for code, answer in operation.get("responses", {}).items():
                        content = answer.get("content", {})
                        if code.isdigit() and int(code) >= 400 and "application/json" in content:
                            content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="Agentry",
        version="0.1.0",
        summary="Durable agent tasks over REST.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings = settings or get_settings()
    app.state.metrics = GatewayMetrics(LiveGauges(settings.metrics_cache_seconds))
    install_error_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_request_bytes)
    # outermost: sees every answer, the request guard's too
    app.add_middleware(HttpMetrics, metrics=app.state.metrics)
    app.openapi = _openapi_with_problem_media_type(app)  # type: ignore[method-assign]
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(task_list.router)
    app.include_router(tasks.router)
    app.include_router(task_records.router)
    app.include_router(approvals.router)
    app.include_router(agents.router)
    app.include_router(pools.router)
    app.include_router(keys.router)
    app.include_router(usage.router)
    app.include_router(spend.router)
    app.include_router(responses.router)
    app.include_router(chat_completions.router)
    app.include_router(ui.router)
    return app
