"""What tasks used and cost over a time range, grouped by tenant, agent, model or day.

Per tenant, agent and day the figures are the top-level tasks' (a task's usage already holds
its sub-agents'), counted on the day they were submitted; per model they are the model calls
themselves (each `llm_call` event and each summary's `memory` event). Human wait is the time
approvals waited for a decision. Methods never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Float, Integer, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Approval, Task, TaskEvent, Tenant

GroupBy = Literal["tenant", "agent", "model", "day"]


@dataclass(frozen=True)
class UsageRow:
    key: str
    tasks: int
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    tool_calls: int
    human_wait_ms: int
    tasks_succeeded: int


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def usage(
        self,
        group_by: GroupBy,
        start: datetime,
        end: datetime,
        tenant_id: uuid.UUID | None,
    ) -> list[UsageRow]:
        """`tenant_id` None: every tenant (platform operators)."""
        if group_by == "model":
            return await self._by_model(start, end, tenant_id)
        key = self._task_key(group_by)
        tasks = (
            select(
                key.label("key"),
                func.count().label("tasks"),
                func.sum(Task.llm_calls),
                func.sum(Task.prompt_tokens),
                func.sum(Task.completion_tokens),
                func.sum(Task.cost_usd),
                func.sum(Task.tool_calls),
                func.count().filter(Task.status == "succeeded"),
            )
            .select_from(Task)
            .join(Tenant, Tenant.id == Task.tenant_id)
            .where(Task.parent_task_id.is_(None), *self._range(start, end, tenant_id))
            .group_by(key)
        )
        waits = (
            select(key.label("key"), func.sum(_wait_ms()))
            .select_from(Approval)
            .join(Task, Task.id == Approval.task_id)
            .join(Tenant, Tenant.id == Task.tenant_id)
            .where(*self._range(start, end, tenant_id))
            .group_by(key)
        )
        waited = {str(k): int(ms or 0) for k, ms in (await self._session.execute(waits)).all()}
        rows = (await self._session.execute(tasks.order_by(key))).all()
        return [
            UsageRow(
                key=str(row[0]),
                tasks=int(row[1]),
                model_calls=int(row[2] or 0),
                prompt_tokens=int(row[3] or 0),
                completion_tokens=int(row[4] or 0),
                cost_usd=float(row[5] or 0),
                tool_calls=int(row[6] or 0),
                human_wait_ms=waited.get(str(row[0]), 0),
                tasks_succeeded=int(row[7] or 0),
            )
            for row in rows
        ]

    async def _by_model(
        self, start: datetime, end: datetime, tenant_id: uuid.UUID | None
    ) -> list[UsageRow]:
        data = TaskEvent.data
        model = data["model"].astext
        calls = func.sum(func.coalesce(cast(data["summarizer_calls"].astext, Integer), literal(1)))
        statement = (
            select(
                model,
                func.count(func.distinct(TaskEvent.task_id)),
                calls,
                func.sum(func.coalesce(cast(data["prompt_tokens"].astext, Integer), 0)),
                func.sum(func.coalesce(cast(data["completion_tokens"].astext, Integer), 0)),
                func.sum(func.coalesce(cast(data["cost_usd"].astext, Float), 0.0)),
            )
            .select_from(TaskEvent)
            .join(Task, Task.id == TaskEvent.task_id)
            .where(TaskEvent.type.in_(("llm_call", "memory")), *self._range(start, end, tenant_id))
            .group_by(model)
            .order_by(model)
        )
        return [
            UsageRow(
                key=str(row[0]),
                tasks=int(row[1]),
                model_calls=int(row[2] or 0),
                prompt_tokens=int(row[3] or 0),
                completion_tokens=int(row[4] or 0),
                cost_usd=float(row[5] or 0),
                tool_calls=0,
                human_wait_ms=0,
                tasks_succeeded=0,
            )
            for row in (await self._session.execute(statement)).all()
        ]

    @staticmethod
    def _task_key(group_by: GroupBy) -> Any:
        if group_by == "tenant":
            return Tenant.name
        if group_by == "agent":
            return Task.agent
        return func.to_char(func.date_trunc("day", Task.created_at), "YYYY-MM-DD")

    @staticmethod
    def _range(start: datetime, end: datetime, tenant_id: uuid.UUID | None) -> list[Any]:
        conditions = [Task.created_at >= start, Task.created_at < end]
        if tenant_id is not None:
            conditions.append(Task.tenant_id == tenant_id)
        return conditions


def _wait_ms() -> Any:
    """An approval's wait for a human, in ms (until now while it is undecided)."""
    until = func.coalesce(Approval.decided_at, func.now())
    return func.extract("epoch", until - Approval.created_at) * 1000
