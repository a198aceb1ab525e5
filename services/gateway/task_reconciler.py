"""Finalises tasks whose workflow ended without saying so.

A workflow normally writes its task's final status itself (the `finish_task` activity). One
that is terminated, fails on a bug outside an activity, or is lost with its history leaves the
row `running` (or waiting) forever, holding a slot of its tenant's cap. This loop, started in
the gateway's lifespan, walks the tasks that are not final and have not changed for a while,
asks Temporal about each one's workflow, and writes the outcome of those that are closed.

The walk is a round: each pass goes on from where the last stopped, so tasks that wait for a
long time (an approval, a conversation) do not keep the others from being looked at. Several
gateway replicas may walk at once: the final status is written under the row's lock, once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.db.events import EventRepository, status_event, status_step
from activities.db.task_upkeep import TaskUpkeepRepository
from activities.db.tasks import TaskRepository
from services.gateway.periodic import PeriodicJob
from workflows.contracts.tasks import TaskStatus

BATCH_SIZE = 50
ERROR_CODE = "workflow_closed"


@dataclass(frozen=True)
class Outcome:
    status: TaskStatus
    error: str | None
    workflow_status: str


_CLOSED = {
    WorkflowExecutionStatus.FAILED: Outcome(
        TaskStatus.failed, "the task's workflow failed outside any step", "failed"
    ),
    WorkflowExecutionStatus.TERMINATED: Outcome(
        TaskStatus.failed, "the task's workflow was terminated by an operator", "terminated"
    ),
    WorkflowExecutionStatus.TIMED_OUT: Outcome(
        TaskStatus.failed, "the task's workflow timed out", "timed_out"
    ),
    WorkflowExecutionStatus.CANCELED: Outcome(TaskStatus.cancelled, None, "canceled"),
    WorkflowExecutionStatus.COMPLETED: Outcome(
        TaskStatus.failed, "the task's workflow ended without recording its result", "completed"
    ),
}
_GONE = Outcome(TaskStatus.failed, "the task's workflow no longer exists", "not_found")


class TaskReconciler(PeriodicJob):
    name = "task-reconciler"
    done_message = "reconciler finalised %d task(s) whose workflow closed"

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        client: Client,
        *,
        quiet_for: timedelta,
        interval_seconds: float,
    ) -> None:
        """A task is looked at once it has not changed for `quiet_for`."""
        super().__init__(interval_seconds)
        self._sessions = session_factory
        self._client = client
        self._quiet_for = quiet_for
        self._after: tuple[datetime, uuid.UUID] | None = None

    async def run_once(self, limit: int = BATCH_SIZE) -> int:
        """One pass over the next `limit` quiet tasks; how many were finalised."""
        async with self._sessions() as session:
            tasks = await TaskUpkeepRepository(session).unfinished_before(
                datetime.now(UTC) - self._quiet_for, self._after, limit
            )
        self._after = (tasks[-1].updated_at, tasks[-1].id) if len(tasks) == limit else None
        finalised = 0
        for task in tasks:
            outcome = await self._outcome(task.workflow_id)
            if outcome is not None and await self._finalise(task.id, outcome):
                finalised += 1
        return finalised

    async def _outcome(self, workflow_id: str) -> Outcome | None:
        """How the workflow ended; None while it runs (or Temporal cannot say now)."""
        try:
            description = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return _GONE
            raise
        return _CLOSED.get(description.status) if description.status else None

    async def _finalise(self, task_id: uuid.UUID, outcome: Outcome) -> bool:
        async with self._sessions.begin() as session:
            tasks = TaskRepository(session)
            task = await tasks.lock(task_id)
            if task is None or TaskStatus(task.status).is_final:
                return False  # finished meanwhile, by its workflow or another replica
            code = ERROR_CODE if outcome.status is TaskStatus.failed else None
            await tasks.finish(task, outcome.status, output=task.output, error=outcome.error,
                               error_code=code)  # fmt: skip
            event = status_event(outcome.status, error_code=code)
            event.data["details"] = {"reconciled": True, "workflow": outcome.workflow_status}
            await EventRepository(session).add(task_id, status_step(outcome.status), event)
        return True
