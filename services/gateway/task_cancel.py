"""Cancelling a task (POST /v1/tasks/{id}/cancel, POST /v1/responses/{id}/cancel): mark it,
cancel its workflow, and wait briefly for the workflow to write the final status."""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.db.events import EventRepository, status_event, status_step
from activities.db.models import Task
from activities.db.tasks import TaskRepository
from services.gateway.errors import ProblemError
from services.settings import Settings
from workflows.contracts.tasks import TaskStatus

logger = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 0.1


async def cancel(
    session: AsyncSession, client: Client, settings: Settings, task: Task, reason: str | None
) -> Task:
    """The task once final, or as it is after `cancel_wait_seconds`; ProblemError 409 when it
    had already finished, 503 when the workflow service cannot be reached."""
    tasks = TaskRepository(session)
    requested = await tasks.request_cancel(task.tenant_id, task.id, reason)
    await session.commit()
    if requested is None:
        latest = await tasks.get(task.tenant_id, task.id)
        raise ProblemError(
            409,
            f"task {task.id} is already {(latest or task).status}; it cannot be cancelled",
            kind="task-final",
        )
    await _cancel_workflow(session, client, requested)
    return await _wait_until_final(session, tasks, task.tenant_id, requested, settings)


async def _cancel_workflow(session: AsyncSession, client: Client, task: Task) -> None:
    try:
        await client.get_workflow_handle(task.workflow_id).cancel()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            logger.warning("cancel of %s failed: %s", task.workflow_id, exc.status.name)
            raise ProblemError(
                503,
                "cancellation could not be requested because the workflow service is "
                "unavailable; retry later",
                kind="workflow-service-unavailable",
                headers={"Retry-After": "5"},
            ) from exc
        # Its workflow never started (a submit crashed before starting it): nobody else
        # will ever finish this task, so the gateway does.
        if await TaskRepository(session).mark_cancelled_if_queued(task.id):
            cancelled = TaskStatus.cancelled
            event = status_event(cancelled, reason=task.cancel_reason)
            await EventRepository(session).add(task.id, status_step(cancelled), event)
        await session.commit()


async def _wait_until_final(
    session: AsyncSession,
    tasks: TaskRepository,
    tenant_id: uuid.UUID,
    task: Task,
    settings: Settings,
) -> Task:
    """Poll Postgres (the workflow writes the final status) until final or out of patience."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.cancel_wait_seconds
    current = task
    while True:
        latest = await tasks.get(tenant_id, task.id)
        await session.commit()  # end the read so the next poll sees new commits
        if latest is None:  # deleted meanwhile; report what we knew
            return current
        current = latest
        if TaskStatus(current.status).is_final or loop.time() >= deadline:
            return current
        await asyncio.sleep(min(CANCEL_POLL_SECONDS, max(0.0, deadline - loop.time())))
