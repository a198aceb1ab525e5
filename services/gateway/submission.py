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

from activities.db.events import EventRepository
from activities.db.models import Task
from activities.db.tasks import NewTask, TaskRepository
from services.agent_specs import AgentCatalog, AgentSpec
from services.gateway.errors import ProblemError
from services.gateway.tenant_caps import TenantCaps, refuse_over_cap
from services.settings import Settings
from workflows.contracts import AgentTaskInput, TaskStatus
from workflows.policies import WORKFLOW_NAME, task_queue_for_pool, workflow_id_for_task

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


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_hash(
    agent: str, input: str, metadata: dict[str, Any], priority: int | None = None
) -> str:
    """What an Idempotency-Key promises: the same key always carries this same request.

    A priority is hashed only when the request names one, so hashes stored before priorities
    existed still match the retries of those requests."""
    request: dict[str, Any] = {"agent": agent, "input": input, "metadata": metadata}
    if priority is not None:
        request["priority"] = priority
    return hashlib.sha256(canonical_json(request).encode()).hexdigest()


def check_sizes(input: str, metadata: dict[str, Any], settings: Settings) -> None:
    input_bytes = len(input.encode())
    if input_bytes > settings.max_input_bytes:
        raise ProblemError(
            413,
            f"input is {input_bytes} bytes; the limit is {settings.max_input_bytes} bytes",
            kind="input-too-large",
            extra={"size": input_bytes, "limit": settings.max_input_bytes},
        )
    metadata_bytes = len(canonical_json(metadata).encode())
    if metadata_bytes > settings.max_metadata_bytes:
        raise ProblemError(
            413,
            f"metadata is {metadata_bytes} bytes as JSON; "
            f"the limit is {settings.max_metadata_bytes} bytes",
            kind="metadata-too-large",
            extra={"size": metadata_bytes, "limit": settings.max_metadata_bytes},
        )


def resolve_agent(catalog: AgentCatalog, name: str) -> AgentSpec:
    spec = catalog.get(name)
    if spec is None:
        available = catalog.names()
        raise ProblemError(
            422,
            f"unknown agent {name!r}; available agents: {', '.join(available) or '(none)'}",
            kind="unknown-agent",
            extra={"available_agents": available},
        )
    return spec


async def submit_task(
    session: AsyncSession,
    client: Client,
    spec: AgentSpec,
    submission: Submission,
    caps: TenantCaps,
) -> tuple[Task, bool]:
    """Store and start the task; (task, created). Raises ProblemError 409, 429 or 503."""
    digest = request_hash(
        submission.agent,
        submission.input,
        submission.metadata,
        submission.priority if submission.priority_given else None,
    )
    tasks = TaskRepository(session)
    task, created = await _store(session, tasks, submission, digest, caps)
    if not created and task.request_hash != digest:
        raise ProblemError(
            409,
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new task",
            kind="idempotency-key-reused",
        )
    if created or task.status == TaskStatus.queued:
        try:
            await _start_workflow(client, task, spec, caps)
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
    caps: TenantCaps,
) -> tuple[Task, bool]:
    """Insert the task and its `queued` event in one transaction; in reject mode only within
    the tenant's cap (a retry of a stored task is never refused)."""
    if caps.over_cap == "reject":
        key = submission.idempotency_key
        if key is None or await tasks.get_by_idempotency_key(submission.tenant_id, key) is None:
            await refuse_over_cap(session, submission.tenant_id, caps)
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
    )
    task, created = await tasks.create(new)
    if created:
        await EventRepository(session).add(
            task.id, "status", {"status": TaskStatus.queued.value}, step_key="status:queued"
        )
    await session.commit()
    return task, created


async def _start_workflow(client: Client, task: Task, spec: AgentSpec, caps: TenantCaps) -> None:
    """Start by name; an already-started workflow is a retried submit, so it counts as done.

    Temporal's task priority orders the pool's backlog (its activities inherit it); the
    tenant as fairness key takes turns between tenants within one priority."""
    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            AgentTaskInput(
                task_id=str(task.id),
                agent=spec.to_config(),
                priority=task.priority,
                admission=caps.admission,
            ),
            id=task.workflow_id,
            task_queue=task_queue_for_pool(spec.pool),
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
