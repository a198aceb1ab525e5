"""The task lifecycle in Postgres, as the workflow drives it: a task begins (within its tenant's
cap), changes status, and finishes once."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db.events import EventRepository, status_event, status_step
from activities.db.messages import NewMessage
from activities.db.models import Task
from activities.db.shadow_runs import ShadowRunRepository
from activities.db.steps import StepRepository
from activities.db.tasks import TaskRepository
from activities.db.tenant_caps import TenantCapRepository
from activities.trace_export import NO_TRACE_EXPORT, TraceExport
from workflows.contracts.lifecycle import (
    TASK_MISSING,
    BeginTaskRequest,
    BeginTaskResult,
    Empty,
    FinishTaskRequest,
    FinishTaskResult,
    SetStatusRequest,
)
from workflows.contracts.tasks import TaskStatus


class LifecycleActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        trace: TraceExport = NO_TRACE_EXPORT,
    ) -> None:
        """`trace` is told when a task finishes."""
        self._sessions = session_factory
        self._trace = trace

    @activity.defn
    async def begin_task(self, request: BeginTaskRequest) -> BeginTaskResult:
        """Mark the task running and write its opening messages (system prompt, user input).

        With an admission policy a queued task begins only within its tenant's cap; else
        nothing is written but the wait, and the workflow asks again after `wait_seconds`.
        """
        async with self._sessions.begin() as session:
            task = await lock_task(session, request.task_id)
            if TaskStatus(task.status).is_final:
                return BeginTaskResult(message_ids=[], final_status=TaskStatus(task.status))
            if task.status == TaskStatus.queued and request.admission is not None:
                admission = await TenantCapRepository(session).admit(task, request.admission)
                if not admission.admitted:
                    return BeginTaskResult(message_ids=[], wait_seconds=admission.wait_seconds)
            if task.status == TaskStatus.queued:
                TaskRepository(session).start(task)
                running = TaskStatus.running
                await EventRepository(session).add(
                    task.id, status_step(running), status_event(running)
                )
            steps = StepRepository(session)
            ids = []
            if request.system_prompt:
                system = NewMessage("system", request.system_prompt)
                ids.append((await steps.record(task.id, "system", system)).id)
            user = await steps.record(task.id, "input", NewMessage("user", task.input))
            ids.append(user.id)
        return BeginTaskResult(message_ids=ids)

    @activity.defn
    async def finish_task(self, request: FinishTaskRequest) -> FinishTaskResult:
        """Write the final status once; a task already final keeps what it has."""
        async with self._sessions.begin() as session:
            task = await lock_task(session, request.task_id)
            status = TaskStatus(task.status)
            if not status.is_final:  # else e.g. cancelled through the gateway
                status = request.status
                await self._finish(session, task, request)
            live_id = task.shadow_of  # a shadow pair's live task, if the task is of one
            if live_id is None and await ShadowRunRepository(session).has_shadow(task.id):
                live_id = task.id
        self._trace.task_finished(request.task_id)
        if live_id is not None:
            await self._compare_shadow(live_id)
        return FinishTaskResult(status=status)

    @staticmethod
    async def _finish(session: AsyncSession, task: Task, request: FinishTaskRequest) -> None:
        await TaskRepository(session).finish(
            task,
            request.status,
            output=request.output,
            error=request.error,
            error_code=request.error_code,
        )
        cancelled = request.status == TaskStatus.cancelled
        event = status_event(
            request.status,
            error_code=request.error_code,
            reason=task.cancel_reason if cancelled else None,
        )
        if request.details:
            event.data["details"] = request.details
        await EventRepository(session).add(task.id, status_step(request.status), event)

    async def _compare_shadow(self, live_id: uuid.UUID) -> None:
        """A task of a shadow pair finished: compare the pair if the other finished too, in
        a transaction of its own, after the finish is stored. A failure is logged and never
        fails the finish: a live task is never held up by its shadow."""
        try:
            async with self._sessions.begin() as session:
                await ShadowRunRepository(session).compare_when_done(live_id)
        except Exception:
            activity.logger.warning("comparing task %s with its shadow failed", live_id)

    @activity.defn
    async def set_status(self, request: SetStatusRequest) -> Empty:
        """A non-final change (running ⇄ waiting_approval ⇄ waiting_input); never reopens a
        finished task."""
        async with self._sessions.begin() as session:
            task = await lock_task(session, request.task_id)
            if TaskStatus(task.status).is_final or task.status == request.status:
                return Empty()
            TaskRepository(session).change_status(task, request.status, request.output)
            await EventRepository(session).add(
                task.id, request.step_key, status_event(request.status)
            )
        return Empty()


async def lock_task(session: AsyncSession, task_id: str) -> Task:
    """The task, locked for the transaction; a task that is gone fails the step for good."""
    task = await TaskRepository(session).lock(uuid.UUID(task_id))
    if task is None:
        raise ApplicationError(
            f"task {task_id} does not exist", type=TASK_MISSING, non_retryable=True
        )
    return task
