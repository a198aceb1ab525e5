"""Shadow runs in Postgres: the comparison of a live task with its shadow, stored once both
have finished (whichever finishes second stores it), and the summary per agent.

The live task's row is locked while the pair is looked at, so the two finishes cannot both
miss each other; the insert keyed by the live task makes a repeat store nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Integer, Select, cast, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Task, TaskEvent
from activities.db.shadow_figures import RunFigures, compare_runs, tool_sequence
from activities.db.shadow_tables import ShadowComparison
from workflows.contracts.tasks import TaskStatus

ComparisonKey = tuple[datetime, uuid.UUID]
"""A comparison's position, newest first: (compared_at, live_task_id)."""


@dataclass(frozen=True)
class ShadowSummary:
    compared: int
    same_answer: int
    same_tools: int
    live_model_calls: float | None  # means over the compared tasks; None when none
    shadow_model_calls: float | None
    live_tokens: float | None
    shadow_tokens: float | None


@dataclass(frozen=True)
class ComparisonPage:
    items: list[ShadowComparison]
    next_key: ComparisonKey | None


class ShadowRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def has_shadow(self, task_id: uuid.UUID) -> bool:
        """Whether a shadow task shadows this one (one read of a partial index)."""
        found = await self._session.scalar(select(Task.id).where(Task.shadow_of == task_id))
        return found is not None

    async def compare_when_done(self, live_id: uuid.UUID) -> bool:
        """A task of the pair of live task `live_id` has finished: when the other has finished
        too, store their comparison; True when one was stored now."""
        live = await self._task(select(Task).where(Task.id == live_id).with_for_update())
        shadow = await self._task(select(Task).where(Task.shadow_of == live_id).limit(1))
        if live is None or shadow is None:
            return False
        if not (TaskStatus(live.status).is_final and TaskStatus(shadow.status).is_final):
            return False
        live_run, shadow_run = await self._figures(live), await self._figures(shadow)
        verdict = compare_runs(live_run, shadow_run)
        stored = await self._session.execute(
            insert(ShadowComparison)
            .values(
                live_task_id=live.id,
                shadow_task_id=shadow.id,
                tenant_id=live.tenant_id,
                agent=live.agent,
                shadow_agent=shadow.agent,
                same_answer=verdict.same_answer,
                same_tools=verdict.same_tools,
                live_model_calls=live_run.model_calls,
                shadow_model_calls=shadow_run.model_calls,
                live_tokens=live_run.tokens,
                shadow_tokens=shadow_run.tokens,
                live=live_run.as_json(),
                shadow=shadow_run.as_json(),
            )
            .on_conflict_do_nothing()
            .returning(ShadowComparison.live_task_id)
        )
        return stored.scalar_one_or_none() is not None

    async def summary(
        self, tenant_id: uuid.UUID, agent: str, shadow_agent: str | None
    ) -> ShadowSummary:
        """The tenant's comparisons of `agent` (with `shadow_agent` only, when given)."""
        row = (
            await self._session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(cast(ShadowComparison.same_answer, Integer)), 0),
                    func.coalesce(func.sum(cast(ShadowComparison.same_tools, Integer)), 0),
                    func.avg(ShadowComparison.live_model_calls),
                    func.avg(ShadowComparison.shadow_model_calls),
                    func.avg(ShadowComparison.live_tokens),
                    func.avg(ShadowComparison.shadow_tokens),
                ).where(*self._of(tenant_id, agent, shadow_agent))
            )
        ).one()
        means = [None if value is None else float(value) for value in row[3:]]
        return ShadowSummary(int(row[0]), int(row[1]), int(row[2]), *means)

    async def page(
        self,
        tenant_id: uuid.UUID,
        agent: str,
        shadow_agent: str | None,
        *,
        limit: int,
        after: ComparisonKey | None = None,
    ) -> ComparisonPage:
        """The most recent comparisons first; keyset paging on (compared_at, live_task_id)."""
        key = tuple_(ShadowComparison.compared_at, ShadowComparison.live_task_id)
        statement = select(ShadowComparison).where(*self._of(tenant_id, agent, shadow_agent))
        if after is not None:
            statement = statement.where(key < tuple_(*after))
        statement = statement.order_by(
            ShadowComparison.compared_at.desc(), ShadowComparison.live_task_id.desc()
        ).limit(limit + 1)
        rows = list((await self._session.scalars(statement)).all())
        if len(rows) <= limit:
            return ComparisonPage(rows, None)
        last = rows[limit - 1]
        return ComparisonPage(rows[:limit], (last.compared_at, last.live_task_id))

    @staticmethod
    def _of(
        tenant_id: uuid.UUID, agent: str, shadow_agent: str | None
    ) -> list[ColumnElement[bool]]:
        where = [ShadowComparison.tenant_id == tenant_id, ShadowComparison.agent == agent]
        if shadow_agent is not None:
            where.append(ShadowComparison.shadow_agent == shadow_agent)
        return where

    async def _task(self, statement: Select[Task]) -> Task | None:
        found = await self._session.execute(statement.execution_options(populate_existing=True))
        return found.scalar_one_or_none()

    async def _figures(self, task: Task) -> RunFigures:
        calls = await self._session.execute(
            select(TaskEvent.data["iteration"].as_integer(), TaskEvent.data["name"].as_string())
            .where(TaskEvent.task_id == task.id, TaskEvent.type == "tool_call")
            .order_by(TaskEvent.id)
        )
        duration = None
        if task.started_at is not None and task.finished_at is not None:
            duration = int((task.finished_at - task.started_at).total_seconds() * 1000)
        return RunFigures(
            task_id=str(task.id),
            agent=task.agent,
            status=task.status,
            output=task.output,
            tools=tool_sequence([(it or 0, name or "") for it, name in calls.all()]),
            model_calls=task.llm_calls,
            tokens=task.prompt_tokens + task.completion_tokens,
            duration_ms=duration,
        )
