"""Which trace a task belongs to: the one of the task its family started from (named after
that task's agent), the sub-agents' tasks nested under the calls that delegated to them. Read
from the tasks' parent links in Postgres once per task and process: they never change."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.models import Task
from activities.langfuse_export.ids import delegation_observation_id, trace_id

REMEMBERED = 10_000  # tasks whose family a worker keeps in memory
MAX_HOPS = 16  # far beyond the delegation depth limit: a guard against a broken chain


@dataclass(frozen=True)
class Family:
    root_task_id: str
    trace_id: str
    trace_name: str  # the root task's agent
    delegated_by: str | None  # a sub-agent's task: the observation of the delegating call


class TaskFamilies:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory
        self._known: OrderedDict[str, Family] = OrderedDict()

    async def of(self, task_id: str) -> Family:
        known = self._known.get(task_id)
        if known is not None:
            self._known.move_to_end(task_id)
            return known
        root, agent = await self._root_of(task_id)
        family = Family(
            root_task_id=root,
            trace_id=trace_id(root),
            trace_name=agent,
            delegated_by=None if root == task_id else delegation_observation_id(task_id),
        )
        self._known[task_id] = family
        if len(self._known) > REMEMBERED:
            self._known.popitem(last=False)
        return family

    async def _root_of(self, task_id: str) -> tuple[str, str]:
        """The root task's id and agent."""
        current, agent = task_id, ""
        async with self._sessions() as session:
            for _ in range(MAX_HOPS):
                row = await session.get(Task, uuid.UUID(current))
                if row is None:
                    break
                agent = row.agent
                if row.parent_task_id is None:
                    break
                current = str(row.parent_task_id)
        return current, agent
