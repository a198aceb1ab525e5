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
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.db.events import EventRepository
from activities.db.models import Task
from activities.db.tasks import NewTask, TaskRepository
from services.agent_specs import AgentCatalog, AgentSpec
from services.gateway.errors import ProblemError
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


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_hash(agent: str, input: str, metadata: dict[str, Any]) -> str:
    """What an Idempotency-Key promises: the same key always carries this same request."""
    canonical = canonical_json({"agent": agent, "input": input, "metadata": metadata})
    return hashlib.sha256(canonical.encode()).hexdigest()


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
    session: AsyncSession, client: Client, spec: AgentSpec, submission: Submission
) -> tuple[Task, bool]:
    """Store and start the task; (task, created). Raises ProblemError 409 or 503."""
    digest = request_hash(submission.agent, submission.input, submission.metadata)
    tasks = TaskRepository(session)
    task, created = await _store(session, tasks, submission, digest)
    if not created and task.request_hash != digest:
        raise ProblemError(
            409,
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new task",
            kind="idempotency-key-reused",
        )
    if created or task.status == TaskStatus.queued:
        try:
            await _start_workflow(client, task, spec)
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
    session: AsyncSession, tasks: TaskRepository, submission: Submission, digest: str
) -> tuple[Task, bool]:
    """Insert the task and its `queued` event in one transaction."""
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
    )
    task, created = await tasks.create(new)
    if created:
        await EventRepository(session).add(
            task.id, "status", {"status": TaskStatus.queued.value}, step_key="status:queued"
        )
    await session.commit()
    return task, created


async def _start_workflow(client: Client, task: Task, spec: AgentSpec) -> None:
    """Start by name; an already-started workflow is a retried submit, so it counts as done."""
    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            AgentTaskInput(task_id=str(task.id), agent=spec.to_config()),
            id=task.workflow_id,
            task_queue=task_queue_for_pool(spec.pool),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
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
