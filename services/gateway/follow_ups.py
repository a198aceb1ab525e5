"""Follow-up messages: a user adds to a task while it runs or waits.

The message and its event are committed first, so the workflow always finds the message its
signal names; if the signal cannot be delivered both are removed again (nothing half-stored).
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from activities.db.events import EventRepository, NewEvent
from activities.db.messages import MessageRepository
from activities.db.models import Task
from activities.db.tasks import TaskRepository
from services.gateway.errors import ProblemError
from services.gateway.signals import SignalResult, send_signal
from workflows.contracts.messages import USER_MESSAGE_ADDED, UserMessageAdded
from workflows.contracts.tasks import TaskStatus

logger = logging.getLogger(__name__)

ACCEPTING_STATUSES = frozenset(
    {TaskStatus.queued, TaskStatus.running, TaskStatus.waiting_approval, TaskStatus.waiting_input}
)


async def add_follow_up(session: AsyncSession, client: Client, task: Task, content: str) -> int:
    """Store the message and signal the workflow; the message's id. Raises ProblemError 409
    (the task no longer takes messages) or 503 (the workflow service is unreachable)."""
    task_id, tenant_id, workflow_id = task.id, task.tenant_id, task.workflow_id
    tasks = TaskRepository(session)
    status = await tasks.status_locked(task_id)
    if status is None or TaskStatus(status) not in ACCEPTING_STATUSES:
        raise _no_longer_accepting(task_id, f"it is {status or 'gone'}", status or "gone")
    message_id = await MessageRepository(session).add_user_message(
        task_id, step_key=f"user:{uuid.uuid4()}", content=content
    )
    event_key = f"message:{message_id}"
    added = NewEvent("message", {"message_id": message_id})
    await EventRepository(session).add(task_id, event_key, added)
    await session.commit()

    try:
        result = await send_signal(
            client, workflow_id, USER_MESSAGE_ADDED, UserMessageAdded(message_id=message_id)
        )
    except Exception as exc:
        logger.warning("signalling message %s failed: %s", message_id, type(exc).__name__)
        await _take_back(session, task_id, message_id, event_key)
        raise ProblemError(
            503,
            "the message could not be delivered because the workflow service is "
            "unavailable; nothing was stored, retry later",
            kind="workflow-service-unavailable",
            headers={"Retry-After": "5"},
        ) from exc
    if result is SignalResult.workflow_closed:
        await _take_back(session, task_id, message_id, event_key)
        latest = await tasks.get(tenant_id, task_id)
        await session.commit()
        status = latest.status if latest is not None else "gone"
        raise _no_longer_accepting(task_id, "its workflow has ended", status)
    return message_id


async def _take_back(
    session: AsyncSession, task_id: uuid.UUID, message_id: int, event_key: str
) -> None:
    await EventRepository(session).delete(task_id, event_key)
    await MessageRepository(session).delete(message_id)
    await session.commit()


def _no_longer_accepting(task_id: uuid.UUID, why: str, status: str) -> ProblemError:
    return ProblemError(
        409,
        f"task {task_id} takes no more messages: {why}",
        kind="task-not-accepting-messages",
        extra={"task_status": status},
    )
