"""Approval rows: opened and expired by the workflow's activities, read by approvers (a
tenant's inbox, a task's audit trail), and the outbox of decisions not yet signalled to their
workflow. Recording a decision is activities/db/decisions.py.

Methods never commit: the caller owns the transaction.

The statements on the decision's path (looking the approval up, marking it signalled) are built
once, with bound parameters: on this project's CPUs, building and cache-keying a statement of
this size costs more than Postgres takes to run it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    Table,
    Update,
    bindparam,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Approval, Task
from workflows.contracts.approvals import ApprovalDecisionKind, ApprovalNeeded, ApprovalOutcome

OPEN_STATUSES = tuple(outcome.value for outcome in ApprovalOutcome if outcome.is_open)

ApprovalKey = tuple[datetime, uuid.UUID]
"""An approval's position in newest-first order: (created_at, id)."""


@dataclass(frozen=True)
class ApprovalPage:
    approvals: list[Approval]
    next_key: ApprovalKey | None
    """Key of the last approval returned when more follow, else None."""


@dataclass(frozen=True)
class UnsignalledDecision:
    approval: Approval
    workflow_id: str


def _approvals() -> Table:
    table = Approval.__table__
    assert isinstance(table, Table)
    return table


def _get_statement() -> Select[Approval]:
    return (
        select(Approval)
        .where(
            Approval.id == bindparam("approval_id"), Approval.tenant_id == bindparam("tenant_id")
        )
        .execution_options(populate_existing=True)
    )


def _mark_signalled_statement() -> Update:
    approvals = _approvals()
    return (
        update(approvals)
        .where(
            approvals.c.id.in_(bindparam("approval_ids", expanding=True)),
            approvals.c.signalled_at.is_(None),
        )
        .values(signalled_at=func.now())
    )


_GET = _get_statement()
_MARK_SIGNALLED = _mark_signalled_statement()


class ApprovalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open(
        self, task: Task, iteration: int, needed: ApprovalNeeded, context: dict[str, Any]
    ) -> uuid.UUID:
        """Open the approval of one waiting call, once: a retried activity gets the same id."""
        approval_id: uuid.UUID | None = await self._session.scalar(
            insert(Approval)
            .values(
                id=uuid.uuid4(),
                task_id=task.id,
                tenant_id=task.tenant_id,
                agent=task.agent,
                iteration=iteration,
                call_id=needed.call.id,
                tool=needed.call.name,
                arguments=needed.call.arguments,
                reason=needed.reason,
                context=context,
                status=ApprovalOutcome.pending.value,
                on_timeout=needed.on_timeout,
                deadline_at=needed.deadline_at,
            )
            .on_conflict_do_update(
                constraint="uq_approvals_task_call", set_={"call_id": needed.call.id}
            )
            .returning(Approval.id)
        )
        assert approval_id is not None
        return approval_id

    async def find(self, approval_id: uuid.UUID) -> Approval | None:
        """Any tenant's approval (for the workers, which act for every tenant)."""
        return await self._session.get(Approval, approval_id)

    async def lock(self, approval_id: uuid.UUID) -> Approval | None:
        """The approval, locked until the transaction ends, so a decision cannot race it."""
        return await self._session.get(Approval, approval_id, with_for_update=True)

    async def escalate(self, approval_id: uuid.UUID, new_deadline_at: datetime | None) -> None:
        await self._set(
            approval_id,
            status=ApprovalOutcome.escalated.value,
            escalated_at=datetime.now(UTC),
            deadline_at=new_deadline_at,
        )

    async def time_out(self, approval_id: uuid.UUID) -> None:
        """Rejected at the deadline; the workflow decided it, so there is nothing to signal."""
        now = datetime.now(UTC)
        await self._set(
            approval_id,
            status=ApprovalOutcome.timed_out.value,
            decision=ApprovalDecisionKind.reject.value,
            comment="no decision before the deadline",
            decided_at=now,
            signalled_at=now,
        )

    async def _set(self, approval_id: uuid.UUID, **values: Any) -> None:
        await self._session.execute(
            update(Approval).where(Approval.id == approval_id).values(**values)
        )

    async def get(self, tenant_id: uuid.UUID, approval_id: uuid.UUID) -> Approval | None:
        """The approval if it belongs to the tenant; re-read from the database every time."""
        parameters = {"approval_id": approval_id, "tenant_id": tenant_id}
        return (await self._session.execute(_GET, parameters)).scalar_one_or_none()

    async def list_page(
        self,
        tenant_id: uuid.UUID,
        *,
        limit: int,
        statuses: Sequence[str],
        agent: str | None = None,
        task_id: uuid.UUID | None = None,
        after: ApprovalKey | None = None,
    ) -> ApprovalPage:
        """The tenant's inbox, newest first, keyset-paginated on (created_at, id)."""
        statement = select(Approval).where(
            Approval.tenant_id == tenant_id, Approval.status.in_(list(statuses))
        )
        if agent is not None:
            statement = statement.where(Approval.agent == agent)
        if task_id is not None:
            statement = statement.where(Approval.task_id == task_id)
        if after is not None:
            statement = statement.where(tuple_(Approval.created_at, Approval.id) < tuple_(*after))
        statement = statement.order_by(Approval.created_at.desc(), Approval.id.desc()).limit(
            limit + 1
        )
        rows = list((await self._session.execute(statement)).scalars())
        if len(rows) <= limit:
            return ApprovalPage(approvals=rows, next_key=None)
        last = rows[limit - 1]
        return ApprovalPage(approvals=rows[:limit], next_key=(last.created_at, last.id))

    async def list_for_task(self, task_id: uuid.UUID) -> list[Approval]:
        """Every approval of the task, in the order they were requested."""
        statement = (
            select(Approval)
            .where(Approval.task_id == task_id)
            .order_by(Approval.created_at, Approval.iteration, Approval.call_id, Approval.id)
        )
        return list((await self._session.execute(statement)).scalars())

    async def mark_signalled(self, approval_ids: Sequence[uuid.UUID]) -> None:
        if not approval_ids:
            return
        await self._session.execute(_MARK_SIGNALLED, {"approval_ids": list(approval_ids)})

    async def claim_unsignalled(
        self, *, older_than: timedelta, limit: int
    ) -> list[UnsignalledDecision]:
        """Decisions recorded at least `older_than` ago whose workflow was never told; locked
        until the transaction ends, skipping rows another gateway replica holds."""
        statement = (
            select(Approval, Task.workflow_id)
            .join(Task, Task.id == Approval.task_id)
            .where(
                Approval.signalled_at.is_(None),
                Approval.decided_at.is_not(None),
                Approval.decided_at < func.now() - older_than,
            )
            .order_by(Approval.decided_at)
            .limit(limit)
            .with_for_update(of=Approval, skip_locked=True)
        )
        rows = (await self._session.execute(statement)).all()
        return [UnsignalledDecision(approval=row[0], workflow_id=row[1]) for row in rows]
