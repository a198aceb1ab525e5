"""Submitting a task: validate, store it with its first event, then start its workflow.

The row is committed before the workflow starts, so the workflow always finds its task. If the
start fails the row is removed again (nothing half-stored). A retry with the same
Idempotency-Key returns the stored task, and starts its workflow if a crash came in between.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import Priority, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.db.events import EventRepository, status_event, status_step
from activities.db.models import Task
from activities.db.tasks import NewTask, TaskRepository
from activities.db.tenants import TenantRepository
from activities.db.workspace_files import WorkspaceFileRepository
from services.agent_catalog import AgentCatalog
from services.gateway.errors import ProblemError
from services.gateway.spend_limit import refuse_over_spend_limit
from services.gateway.task_limits import effective_budgets
from services.gateway.tenant_room import refuse_without_room
from services.settings import Settings
from workflows.contracts.agents import AgentConfig
from workflows.contracts.budgets import Budgets
from workflows.contracts.tasks import (
    AGENT_TASK_WORKFLOW,
    AdmissionPolicy,
    AgentTaskInput,
    TaskStatus,
    task_queue_for_pool,
    workflow_id_for_task,
)

logger = logging.getLogger(__name__)

START_RPC_TIMEOUT = timedelta(seconds=10)


@dataclass(frozen=True)
class Submission:
    tenant_id: uuid.UUID
    agent: str
    input: str
    metadata: dict[str, Any]
    idempotency_key: str | None
    priority: int  # as asked, else the pool's
    priority_given: bool = False  # asked for: part of what the Idempotency-Key covers
    budgets: Budgets | None = None  # as asked (part of what the Idempotency-Key covers)
    model: str | None = None  # as asked, instead of the agent's (covered when given)
    files: dict[str, str] | None = None  # the workspace it starts with (covered when given)
    agent_version: int | None = None  # pinned, instead of the current (covered when given)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_hash(
    agent: str,
    input: str,
    metadata: dict[str, Any],
    priority: int | None = None,
    budgets: dict[str, Any] | None = None,
    model: str | None = None,
    files: dict[str, str] | None = None,
    agent_version: int | None = None,
) -> str:
    """What an Idempotency-Key promises: the same key always carries this same request.

    A priority (or a model) is hashed only when the request names one, so hashes stored
    before they existed still match the retries of those requests."""
    request: dict[str, Any] = {"agent": agent, "input": input, "metadata": metadata}
    if priority is not None:
        request["priority"] = priority
    if budgets:
        request["budgets"] = budgets
    if model is not None:
        request["model"] = model
    if files:
        request["files"] = files
    if agent_version is not None:
        request["agent_version"] = agent_version
    return hashlib.sha256(canonical_json(request).encode()).hexdigest()


def check_size(
    what: str, size: int, limit: int, *, kind: str = "input-too-large", measured: str = ""
) -> None:
    """A 413 naming both figures when `what` is larger than `limit` bytes (`measured`: how,
    e.g. " as JSON")."""
    if size > limit:
        raise ProblemError(
            413,
            f"{what} is {size} bytes{measured}; the limit is {limit} bytes",
            kind=kind,
            extra={"size": size, "limit": limit},
        )


def check_sizes(
    input: str, metadata: dict[str, Any], settings: Settings, files: dict[str, str] | None = None
) -> None:
    check_size("input", len(input.encode()), settings.max_input_bytes)
    metadata_bytes = len(canonical_json(metadata).encode())
    limit = settings.max_metadata_bytes
    check_size("metadata", metadata_bytes, limit, kind="metadata-too-large", measured=" as JSON")
    if files:
        total = sum(len(content.encode()) for content in files.values())
        check_size("files", total, settings.workspace_max_bytes, kind="files-too-large")
        if len(files) > settings.workspace_max_files:
            raise ProblemError(
                413,
                f"files names {len(files)} files; a workspace holds at most "
                f"{settings.workspace_max_files}",
                kind="files-too-large",
                extra={"size": len(files), "limit": settings.workspace_max_files},
            )


def resolve_agent(catalog: AgentCatalog, name: str) -> AgentConfig:
    agent = catalog.config(name)
    if agent is None:
        available = catalog.names()
        raise ProblemError(
            422,
            f"unknown agent {name!r}; available agents: {', '.join(available) or '(none)'}",
            kind="unknown-agent",
            extra={"available_agents": available},
        )
    return agent


async def submit_task(
    session: AsyncSession,
    client: Client,
    agent: AgentConfig,
    submission: Submission,
    settings: Settings,
) -> tuple[Task, bool]:
    """Store and start the task; (task, created). Raises ProblemError 402, 409, 429 or 503.

    Over its tenant's cap the task is stored and its workflow waits for a slot (429 once
    `tenant_max_queued_tasks` already wait), or, with `tenant_over_cap=reject`, it is refused
    with 429 (activities/db/tenant_caps.py)."""
    digest = request_hash(
        submission.agent,
        submission.input,
        submission.metadata,
        submission.priority if submission.priority_given else None,
        submission.budgets.model_dump(exclude_none=True) if submission.budgets else None,
        submission.model,
        submission.files,
        submission.agent_version,
    )
    tasks = TaskRepository(session)
    limits = {**settings.task_budget_limits}
    limits.update(await TenantRepository(session).budget_limits(submission.tenant_id))
    agent = agent.model_copy(
        update={"budgets": effective_budgets(agent.budgets, submission.budgets, limits)}
    )
    task, created = await _store(session, tasks, submission, digest, settings, agent)
    if not created and task.request_hash != digest:
        raise ProblemError(
            409,
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new task",
            kind="idempotency-key-reused",
        )
    if created or task.status == TaskStatus.queued:
        try:
            await _start_workflow(client, task, agent, _admission_policy(settings))
        except Exception as exc:
            if created:
                await tasks.delete_unstarted(task.id)
                await session.commit()
            raise ProblemError(
                503,
                "the task could not be started because the workflow service is unavailable; "
                "retry later" + (" with the same Idempotency-Key" if not created else ""),
                kind="workflow-service-unavailable",
                headers={"Retry-After": "5"},
            ) from exc
    return task, created


async def _store(
    session: AsyncSession,
    tasks: TaskRepository,
    submission: Submission,
    digest: str,
    settings: Settings,
    agent: AgentConfig,
) -> tuple[Task, bool]:
    """Insert the task and its `queued` event in one transaction, only within the tenant's
    monthly spend limit and its cap (reject mode) or its queue limit (queue mode); a retry of a
    stored task is never refused."""
    key = submission.idempotency_key
    if key is None or await tasks.get_by_idempotency_key(submission.tenant_id, key) is None:
        await refuse_over_spend_limit(session, submission.tenant_id)
        await refuse_without_room(session, submission.tenant_id, settings)
    task_id = uuid.uuid4()
    new = NewTask(
        id=task_id,
        tenant_id=submission.tenant_id,
        agent=submission.agent,
        input=submission.input,
        metadata=submission.metadata,
        workflow_id=workflow_id_for_task(str(task_id)),
        idempotency_key=submission.idempotency_key,
        request_hash=digest,
        priority=submission.priority,
        budgets=agent.budgets.model_dump(),
        model=agent.model,
        agent_version=agent.version,
        skills_used=[use.model_dump() for use in agent.skills],
    )
    task, created = await tasks.create(new)
    if created:
        queued = TaskStatus.queued
        await EventRepository(session).add(task.id, status_step(queued), status_event(queued))
        await WorkspaceFileRepository(session).put_all(task.id, submission.files or {})
    await session.commit()
    return task, created


def _admission_policy(settings: Settings) -> AdmissionPolicy:
    """What the task's workflow starts with: every task begins within its tenant's cap (in
    reject mode it nearly always has a slot at once)."""
    return AdmissionPolicy(
        default_cap=settings.tenant_max_concurrent_tasks,
        poll_seconds=settings.tenant_admission_poll_seconds,
    )


async def _start_workflow(
    client: Client, task: Task, agent: AgentConfig, admission: AdmissionPolicy
) -> None:
    """Start by name; an already-started workflow is a retried submit, so it counts as done.

    Temporal's task priority orders the pool's backlog (its activities inherit it); the
    tenant as fairness key takes turns between tenants within one priority."""
    try:
        await client.start_workflow(
            AGENT_TASK_WORKFLOW,
            AgentTaskInput(
                task_id=str(task.id),
                agent=agent.model_copy(update={"budgets": Budgets.model_validate(task.budgets)})
                if task.budgets
                else agent,
                priority=task.priority,
                admission=admission,
            ),
            id=task.workflow_id,
            task_queue=task_queue_for_pool(agent.pool),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            priority=Priority(priority_key=task.priority, fairness_key=str(task.tenant_id)),
            rpc_timeout=START_RPC_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        return
    except Exception:
        # The start may have reached the server before the error (e.g. a timeout); if the
        # workflow exists, the task is running and must not be deleted.
        if await _workflow_exists(client, task.workflow_id):
            return
        logger.exception("starting workflow %s failed", task.workflow_id)
        raise


async def _workflow_exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe(rpc_timeout=START_RPC_TIMEOUT)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            logger.warning("could not check workflow %s: %s", workflow_id, exc.status.name)
        return False
    except Exception:
        return False
    return True
