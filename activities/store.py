"""Task lifecycle bookkeeping in Postgres: a task starts, changes status, finishes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db.models import Task
from activities.db.steps import NewEvent, NewMessage, add_event, record_step
from activities.tenant_admission import admit
from workflows.contracts import (
    BeginTaskRequest,
    BeginTaskResult,
    Empty,
    FinishTaskRequest,
    FinishTaskResult,
    SetStatusRequest,
    TaskStatus,
)


class StoreActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn
    async def begin_task(self, request: BeginTaskRequest) -> BeginTaskResult:
        """Mark the task running and write its opening messages (system prompt, user input).

        With an admission policy a queued task begins only within its tenant's cap; else
        nothing is written but the wait, and the workflow asks again after `wait_seconds`.
        """
        async with self._sessions.begin() as session:
            task = await _lock_task(session, request.task_id)
            if TaskStatus(task.status).is_final:
                return BeginTaskResult(message_ids=[], final_status=TaskStatus(task.status))
            if task.status == TaskStatus.queued and request.admission is not None:
                admission = await admit(session, task, request.admission)
                if not admission.admitted:
                    return BeginTaskResult(message_ids=[], wait_seconds=admission.wait_seconds)
            if task.status == TaskStatus.queued:
                task.status = TaskStatus.running
                task.started_at = datetime.now(UTC)
                await add_event(
                    session,
                    request.task_id,
                    "status:running",
                    NewEvent("status", {"status": TaskStatus.running.value}),
                )
            ids = []
            if request.system_prompt:
                system = await record_step(
                    session, request.task_id, "system", NewMessage("system", request.system_prompt)
                )
                ids.append(system.id)
            user = await record_step(
                session, request.task_id, "input", NewMessage("user", task.input)
            )
            ids.append(user.id)
        return BeginTaskResult(message_ids=ids)

    @activity.defn
    async def finish_task(self, request: FinishTaskRequest) -> FinishTaskResult:
        """Write the final status once; a task already final keeps what it has."""
        async with self._sessions.begin() as session:
            task = await _lock_task(session, request.task_id)
            if TaskStatus(task.status).is_final:
                return FinishTaskResult(status=TaskStatus(task.status))
            now = datetime.now(UTC)
            await session.execute(
                update(Task)
                .where(Task.id == task.id)
                .values(
                    status=request.status.value,
                    output=request.output,
                    error=request.error,
                    error_code=request.error_code,
                    finished_at=now,
                    updated_at=now,
                    started_at=task.started_at or now,
                )
            )
            data: dict[str, str] = {"status": request.status.value}
            if request.error_code:
                data["error_code"] = request.error_code
            if request.status == TaskStatus.cancelled and task.cancel_reason:
                data["reason"] = task.cancel_reason
            await add_event(
                session, request.task_id, f"status:{request.status.value}", NewEvent("status", data)
            )
        return FinishTaskResult(status=request.status)

    @activity.defn
    async def set_status(self, request: SetStatusRequest) -> Empty:
        """A non-final change (running ⇄ waiting_approval ⇄ waiting_input); never reopens a
        finished task."""
        async with self._sessions.begin() as session:
            task = await _lock_task(session, request.task_id)
            if TaskStatus(task.status).is_final or task.status == request.status:
                return Empty()
            task.status = request.status.value
            if request.output is not None:
                task.output = request.output
            task.updated_at = datetime.now(UTC)
            await add_event(
                session,
                request.task_id,
                request.step_key,
                NewEvent("status", {"status": request.status.value}),
            )
        return Empty()


async def _lock_task(session: AsyncSession, task_id: str) -> Task:
    task = await session.scalar(select(Task).where(Task.id == uuid.UUID(task_id)).with_for_update())
    if task is None:
        raise ApplicationError(
            f"task {task_id} does not exist", type="TaskMissing", non_retryable=True
        )
    return task
