"""What is in flight right now, across all tenants, for the gateway's metrics: tasks not yet
final by agent and status, and approvals still waiting by agent with the oldest one's age.

Both read only tasks that are not final, through the partial index over them
(`ix_tasks_unfinished_updated`), so a scrape costs what is running, not the table's history. The
predicate is written exactly as the index's, which is what lets Postgres use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import UNFINISHED_SQL, Approval, Task
from workflows.contracts.approvals import ApprovalOutcome

OPEN_APPROVALS = tuple(outcome.value for outcome in ApprovalOutcome if outcome.is_open)
_UNFINISHED_TASK = text(f"tasks.{UNFINISHED_SQL}")


@dataclass(frozen=True)
class OpenApprovals:
    count: int
    oldest_age_seconds: float


@dataclass(frozen=True)
class LiveCounts:
    tasks: dict[tuple[str, str], int] = field(default_factory=dict)  # (agent, status) → n
    approvals: dict[str, OpenApprovals] = field(default_factory=dict)  # agent → waiting


class LiveCountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def read(self) -> LiveCounts:
        tasks = (
            select(Task.agent, Task.status, func.count())
            .where(_UNFINISHED_TASK)
            .group_by(Task.agent, Task.status)
        )
        # an approval of a finished task waits for nobody, whatever its row says
        approvals = (
            select(
                Approval.agent,
                func.count(),
                func.extract("epoch", func.now() - func.min(Approval.created_at)),
            )
            .join(Task, Task.id == Approval.task_id)
            .where(_UNFINISHED_TASK, Approval.status.in_(OPEN_APPROVALS))
            .group_by(Approval.agent)
        )
        session = self._session
        return LiveCounts(
            tasks={
                (agent, status): int(count)
                for agent, status, count in (await session.execute(tasks)).all()
            },
            approvals={
                agent: OpenApprovals(int(count), max(float(age), 0.0))
                for agent, count, age in (await session.execute(approvals)).all()
            },
        )
