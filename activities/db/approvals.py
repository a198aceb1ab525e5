"""Approval rows as the gateway sees them: a tenant's inbox, a task's audit trail, recording a
decision, and the outbox of decisions not yet signalled to their workflow.

Methods never commit: the caller owns the transaction.

The statements on the decision's path (looking the approval up, recording the decision, marking
it signalled) are built once, with bound parameters: on this project's CPUs, building and
cache-keying a statement of this size costs more than Postgres takes to run it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    Table,
    Text,
    Update,
    bindparam,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from activities.db.models import Approval, Task, TaskEvent
from activities.db.tasks import FINAL_STATUSES
from workflows.contracts import ApprovalDecisionKind, ApprovalOutcome

OPEN_STATUSES = tuple(outcome.value for outcome in ApprovalOutcome if outcome.is_open)

OUTCOME_OF_DECISION = {
    ApprovalDecisionKind.approve: ApprovalOutcome.approved,
    ApprovalDecisionKind.reject: ApprovalOutcome.rejected,
    ApprovalDecisionKind.edit: ApprovalOutcome.edited,
}

ApprovalKey = tuple[datetime, uuid.UUID]
"""An approval's position in newest-first order: (created_at, id)."""


@dataclass(frozen=True)
class ApprovalPage:
    approvals: list[Approval]
    next_key: ApprovalKey | None
    """Key of the last approval returned when more follow, else None."""


@dataclass(frozen=True)
class Decision:
    kind: ApprovalDecisionKind
    arguments: dict[str, Any] | None  # edit only
    comment: str | None
    api_key_id: uuid.UUID
    api_key_name: str


@dataclass(frozen=True)
class RecordedDecision:
    """A decision just stored, with the workflow to tell about it."""

    approval: Approval
    workflow_id: str


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


def _decide_statement() -> Select[Approval, str]:
    """One statement: the conditional UPDATE (open approval, task not final), the `approval`
    event of the decision, and the decided row with its task's workflow id.

    A data-modifying CTE runs to completion whether or not the outer SELECT reads it, and the
    event's INSERT reads the UPDATE's RETURNING: no decision, no event. Parameter names
    differ from column names on purpose: an UPDATE sets any column an execution parameter
    is named after.
    """
    approvals = _approvals()
    decided = (
        update(approvals)
        .where(
            approvals.c.id == bindparam("approval_id"),
            approvals.c.tenant_id == bindparam("owner_tenant_id"),
            approvals.c.status.in_(OPEN_STATUSES),
            Task.id == approvals.c.task_id,
            Task.status.not_in(FINAL_STATUSES),
        )
        .values(
            status=bindparam("new_status"),
            decision=bindparam("new_decision"),
            decided_arguments=bindparam("new_arguments", type_=JSONB),
            comment=bindparam("new_comment"),
            decided_by=bindparam("new_decided_by"),
            decided_by_name=bindparam("new_decided_by_name"),
            decided_at=func.now(),
        )
        .returning(*approvals.c, Task.workflow_id)
        .cte("decided")
    )
    event = (
        insert(TaskEvent)
        .from_select(
            ["task_id", "type", "data", "step_key"],
            select(
                decided.c.task_id,
                literal("approval"),
                func.jsonb_build_object(
                    "approval_id",
                    sql_cast(decided.c.id, Text),
                    "tool",
                    decided.c.tool,
                    "state",
                    decided.c.status,
                    "decision",
                    decided.c.decision,
                    "by",
                    decided.c.decided_by_name,
                ),
                literal("approval:") + sql_cast(decided.c.id, Text) + literal(":decided"),
            ),
        )
        .on_conflict_do_nothing(constraint="uq_task_events_task_step")
        .cte("decision_event")
    )
    return (
        select(aliased(Approval, decided), decided.c.workflow_id)
        .add_cte(event)
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
_DECIDE = _decide_statement()
_MARK_SIGNALLED = _mark_signalled_statement()


class ApprovalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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

    async def decide(
        self, tenant_id: uuid.UUID, approval_id: uuid.UUID, decision: Decision
    ) -> RecordedDecision | None:
        """Record the decision and its `approval` event if the approval is still open and its
        task not final.

        One conditional UPDATE, so two approvers racing (or a decision racing the deadline)
        leave exactly one outcome; the event is written by the same statement. None when
        nothing was updated; the caller finds out why.
        """
        parameters = {
            "approval_id": approval_id,
            "owner_tenant_id": tenant_id,
            "new_status": OUTCOME_OF_DECISION[decision.kind].value,
            "new_decision": decision.kind.value,
            "new_arguments": decision.arguments,
            "new_comment": decision.comment,
            "new_decided_by": decision.api_key_id,
            "new_decided_by_name": decision.api_key_name,
        }
        row = (await self._session.execute(_DECIDE, parameters)).one_or_none()
        if row is None:
            return None
        approval, workflow_id = row
        return RecordedDecision(approval=approval, workflow_id=workflow_id)

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
