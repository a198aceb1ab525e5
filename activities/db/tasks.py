"""Task rows: submission with idempotency, tenant-scoped reads, the lifecycle the workflow
drives (start, status changes, finish), step counters, and cancel requests.

Methods never commit: the caller owns the transaction, so a task and its first event can be
stored together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Task
from activities.db.spend import SpendRepository
from workflows.contracts.tasks import PRIORITY_DEFAULT, TaskStatus

FINAL_STATUSES = tuple(status.value for status in TaskStatus if status.is_final)

TaskKey = tuple[datetime, uuid.UUID]
"""A task's position in newest-first order: (created_at, id)."""


@dataclass(frozen=True)
class NewTask:
    tenant_id: uuid.UUID
    agent: str
    input: str
    metadata: dict[str, Any]
    workflow_id: str
    idempotency_key: str | None = None
    request_hash: str | None = None
    id: uuid.UUID | None = None
    priority: int = PRIORITY_DEFAULT
    budgets: dict[str, Any] | None = None
    parent_task_id: uuid.UUID | None = None
    model: str | None = None  # the model group the task runs with
    agent_version: int | None = None  # the version of the agent's spec it runs with
    skills_used: list[dict[str, Any]] | None = None  # the skill versions in its prompt
    shadow_of: uuid.UUID | None = None  # a shadow task: the live task it shadows


@dataclass
class StepCounters:
    """What one step adds to its task's usage."""

    llm_calls: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    iterations: int | None = None  # absolute value, when the step advances the loop


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    next_key: TaskKey | None
    """Key of the last task returned when more follow, else None."""


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, new: NewTask) -> tuple[Task, bool]:
        """Insert unless the tenant already used the idempotency key; (task, created).

        ON CONFLICT DO NOTHING makes two racing submits with one key agree on one row.
        """
        task_id = new.id or uuid.uuid4()
        statement = (
            insert(Task)
            .values(
                id=task_id,
                tenant_id=new.tenant_id,
                agent=new.agent,
                model=new.model,
                agent_version=new.agent_version,
                skills_used=new.skills_used,
                status=TaskStatus.queued.value,
                priority=new.priority,
                input=new.input,
                task_metadata=new.metadata,
                workflow_id=new.workflow_id,
                idempotency_key=new.idempotency_key,
                request_hash=new.request_hash,
                budgets=new.budgets,
                parent_task_id=new.parent_task_id,
                shadow_of=new.shadow_of,
                llm_calls=0,
                tool_calls=0,
                prompt_tokens=0,
                completion_tokens=0,
                iterations=0,
            )
            .on_conflict_do_nothing(constraint="uq_tasks_tenant_idempotency")
            .returning(Task)  # the whole row: no read after the insert
        )
        inserted = (await self._session.execute(statement)).scalar_one_or_none()
        if inserted is not None:
            return inserted, True
        if new.idempotency_key is None:
            raise RuntimeError("insert without an idempotency key conflicted")
        existing = await self.get_by_idempotency_key(new.tenant_id, new.idempotency_key)
        if existing is None:
            raise RuntimeError("idempotency conflict but no row holds the key")
        return existing, False

    async def get(self, tenant_id: uuid.UUID, task_id: uuid.UUID) -> Task | None:
        """The task if it belongs to the tenant; re-read from the database every time."""
        statement = (
            select(Task)
            .where(Task.id == task_id, Task.tenant_id == tenant_id)
            .execution_options(populate_existing=True)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def status_of(self, task_id: uuid.UUID) -> str | None:
        return await self._session.scalar(select(Task.status).where(Task.id == task_id))

    async def status_locked(self, task_id: uuid.UUID) -> str | None:
        """The task's committed status, share-locked until the transaction ends so it cannot
        turn final meanwhile; None when the task is gone."""
        statement = select(Task.status).where(Task.id == task_id).with_for_update(read=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_by_idempotency_key(self, tenant_id: uuid.UUID, key: str) -> Task | None:
        statement = (
            select(Task)
            .where(Task.tenant_id == tenant_id, Task.idempotency_key == key)
            .execution_options(populate_existing=True)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def list_page(
        self,
        tenant_id: uuid.UUID,
        *,
        limit: int,
        status: str | None = None,
        agent: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        after: TaskKey | None = None,
    ) -> TaskPage:
        """Newest first; keyset pagination on (created_at, id) stays exact under inserts.
        Shadow tasks are not listed (they stay readable by id)."""
        statement = select(Task).where(Task.tenant_id == tenant_id, Task.shadow_of.is_(None))
        if status is not None:
            statement = statement.where(Task.status == status)
        if agent is not None:
            statement = statement.where(Task.agent == agent)
        if created_after is not None:
            statement = statement.where(Task.created_at >= created_after)
        if created_before is not None:
            statement = statement.where(Task.created_at < created_before)
        if after is not None:
            statement = statement.where(tuple_(Task.created_at, Task.id) < tuple_(*after))
        statement = statement.order_by(Task.created_at.desc(), Task.id.desc()).limit(limit + 1)
        rows = list((await self._session.execute(statement)).scalars())
        if len(rows) <= limit:
            return TaskPage(tasks=rows, next_key=None)
        last = rows[limit - 1]
        return TaskPage(tasks=rows[:limit], next_key=(last.created_at, last.id))

    async def children(self, tenant_id: uuid.UUID, task_id: uuid.UUID) -> list[Task]:
        """The sub-agent tasks a task delegated to, oldest first."""
        statement = (
            select(Task)
            .where(Task.tenant_id == tenant_id, Task.parent_task_id == task_id)
            .order_by(Task.created_at, Task.id)
        )
        return list((await self._session.scalars(statement)).all())

    async def lock(self, task_id: uuid.UUID) -> Task | None:
        """The task, locked until the transaction ends; None when it is gone."""
        statement = select(Task).where(Task.id == task_id).with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    def start(self, task: Task) -> None:
        """queued → running (a locked task)."""
        task.status = TaskStatus.running.value
        task.started_at = datetime.now(UTC)

    def change_status(self, task: Task, status: TaskStatus, output: str | None) -> None:
        """A non-final change of a locked task; `output` is the latest answer, if any."""
        task.status = status.value
        if output is not None:
            task.output = output
        task.updated_at = datetime.now(UTC)

    async def finish(
        self,
        task: Task,
        status: TaskStatus,
        *,
        output: str | None,
        error: str | None,
        error_code: str | None,
    ) -> None:
        """Write a locked task's final status and result; what its model calls still had
        reserved of its tenant's month goes back."""
        now = datetime.now(UTC)
        await self._session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(
                status=status.value,
                output=output,
                error=error,
                error_code=error_code,
                finished_at=now,
                updated_at=now,
                started_at=task.started_at or now,
            )
        )
        await SpendRepository(self._session).release(task.id)

    async def count_step(self, task_id: uuid.UUID, counters: StepCounters) -> None:
        """Add a step's calls and tokens to the task's usage."""
        values: dict[str, Any] = {
            "llm_calls": Task.llm_calls + counters.llm_calls,
            "tool_calls": Task.tool_calls + counters.tool_calls,
            "prompt_tokens": Task.prompt_tokens + counters.prompt_tokens,
            "completion_tokens": Task.completion_tokens + counters.completion_tokens,
            "cost_usd": Task.cost_usd + counters.cost_usd,
            "updated_at": datetime.now(UTC),
        }
        if counters.iterations is not None:
            values["iterations"] = counters.iterations
        await self._session.execute(update(Task).where(Task.id == task_id).values(**values))

    async def request_cancel(
        self, tenant_id: uuid.UUID, task_id: uuid.UUID, reason: str | None
    ) -> Task | None:
        """Record the reason while the task is not final; None when it already is (or is gone).

        A reason given earlier is kept when this request brings none.
        """
        statement = (
            update(Task)
            .where(
                Task.id == task_id,
                Task.tenant_id == tenant_id,
                Task.status.not_in(FINAL_STATUSES),
            )
            .values(cancel_reason=reason if reason is not None else Task.cancel_reason)
            .returning(Task)
            .execution_options(populate_existing=True)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def mark_cancelled_if_queued(self, task_id: uuid.UUID) -> bool:
        """Finish a task whose workflow never started: nobody else ever will."""
        statement = (
            update(Task)
            .where(Task.id == task_id, Task.status == TaskStatus.queued.value)
            .values(status=TaskStatus.cancelled.value, finished_at=func.now())
            .returning(Task.id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() is not None

    async def delete_unstarted(self, task_id: uuid.UUID) -> bool:
        """Remove a task whose workflow could not be started, so nothing stays half-stored."""
        statement = (
            delete(Task)
            .where(Task.id == task_id, Task.status == TaskStatus.queued.value)
            .returning(Task.id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() is not None

    async def count_by_agent(
        self, agents: list[str], finished_since: datetime
    ) -> dict[str, dict[str, int]]:
        """Across all tenants: per agent, tasks by live status (queued, running, waiting_*), and
        under `finished` those that reached a final status since `finished_since`."""
        if not agents:
            return {}
        live = [s.value for s in TaskStatus if not s.is_final]
        finished = Task.status.in_(FINAL_STATUSES) & (Task.finished_at >= finished_since)
        bucket = case((Task.status.in_(FINAL_STATUSES), "finished"), else_=Task.status)
        statement = (
            select(Task.agent, bucket, func.count())
            .where(Task.agent.in_(agents), Task.status.in_(live) | finished)
            .group_by(Task.agent, bucket)
        )
        counts: dict[str, dict[str, int]] = {}
        for agent, status, count in (await self._session.execute(statement)).all():
            counts.setdefault(agent, {})[status] = int(count)
        return counts
