"""Recording an approval decision: the one statement between an approver's POST and the signal
to the task's workflow, run on a bare asyncpg pool of its own.

The time from a decision to the decided call is a measured target (docs/BENCHMARKS.md), and a
SQLAlchemy session's per-request work (checkout, pre-ping, BEGIN, ORM rows, COMMIT) is a large
part of it; a bare asyncpg connection is not. The statement is still written with SQLAlchemy,
compiled once; being one statement it needs no transaction of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import (
    ARRAY,
    BindParameter,
    Select,
    String,
    Table,
    Text,
    bindparam,
    func,
    literal,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import aliased

from activities.db.approvals import OPEN_STATUSES
from activities.db.models import ApiKey, Approval, Task, TaskEvent
from activities.db.tasks import FINAL_STATUSES
from workflows.contracts.approvals import OUTCOME_OF_DECISION, ApprovalDecisionKind


@dataclass(frozen=True)
class Decision:
    kind: ApprovalDecisionKind
    arguments: dict[str, Any] | None  # edit only
    comment: str | None


@dataclass(frozen=True)
class RecordedDecision:
    """A decision just stored, with the workflow to tell about it."""

    approval: Approval
    workflow_id: str


@dataclass(frozen=True)
class DecisionAttempt:
    """What the decision statement found: the caller's key, and the decision if it was made."""

    decider: ApiKey | None
    """None: no active key has the hash."""
    recorded: RecordedDecision | None
    """None: nothing decided (a role that may not decide, an unknown or closed approval, a
    final task); the caller finds out which."""


_TEXTS: ARRAY[str] = ARRAY(String)


def _constant(name: str, values: Sequence[str]) -> BindParameter[Any]:
    # arrays, not IN lists: an IN list is rendered per execution, an array is one parameter
    return bindparam(name, value=list(values), type_=_TEXTS)


def _decide_statement() -> Select[ApiKey, Approval, str]:
    """The caller's key by hash, the conditional UPDATE (a key with a deciding role, the key's
    tenant, an open approval, a task not final), the `approval` event of the decision, and
    the key with the decided row and its workflow id.

    A data-modifying CTE runs to completion whether or not the outer SELECT reads it, and the
    event's INSERT reads the UPDATE's RETURNING: no decision, no event. Two approvers racing
    (or a decision racing the deadline) leave exactly one outcome.
    """
    approvals = Approval.__table__
    assert isinstance(approvals, Table)
    caller = (
        select(ApiKey)
        .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
        .cte("caller")
    )
    decided = (
        sql_update(approvals)
        .where(
            approvals.c.id == bindparam("approval_id"),
            approvals.c.tenant_id == caller.c.tenant_id,
            caller.c.role == func.any(bindparam("decider_roles", type_=_TEXTS)),
            approvals.c.status == func.any(_constant("open_statuses", OPEN_STATUSES)),
            Task.id == approvals.c.task_id,
            Task.status != func.all(_constant("final_statuses", FINAL_STATUSES)),
        )
        .values(
            status=bindparam("new_status"),
            decision=bindparam("new_decision"),
            decided_arguments=bindparam("new_arguments", type_=JSONB),
            comment=bindparam("new_comment"),
            decided_by=caller.c.id,
            decided_by_name=caller.c.name,
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
        select(aliased(ApiKey, caller), aliased(Approval, decided), decided.c.workflow_id)
        .select_from(caller.outerjoin(decided, true()))
        .add_cte(event)
    )


class _CompiledDecision:
    """The statement as asyncpg text: `$n` parameters in `order`, constants (the status lists)
    bound here."""

    def __init__(self) -> None:
        compiled = _decide_statement().compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
        self.sql = str(compiled)
        self.order: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.constants = {k: v for k, v in compiled.params.items() if v is not None}
        self.key_columns = [c.key for c in ApiKey.__table__.columns]
        self.approval_columns = [c.key for c in Approval.__table__.columns]

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        values = {**self.constants, **parameters}
        return [values[name] for name in self.order]

    def attempt(self, row: asyncpg.Record | None) -> DecisionAttempt:
        """Rows back to ORM objects (transient: nothing here is tracked by a session)."""
        if row is None:
            return DecisionAttempt(decider=None, recorded=None)
        values = list(row.values())
        n_key, n_approval = len(self.key_columns), len(self.approval_columns)
        decider = ApiKey(**dict(zip(self.key_columns, values[:n_key], strict=True)))
        approval_values = values[n_key : n_key + n_approval]
        workflow_id = values[n_key + n_approval]
        if workflow_id is None:
            return DecisionAttempt(decider=decider, recorded=None)
        approval = Approval(**dict(zip(self.approval_columns, approval_values, strict=True)))
        return DecisionAttempt(decider=decider, recorded=RecordedDecision(approval, workflow_id))


_DECISION = _CompiledDecision()


async def _json_codecs(connection: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


def asyncpg_dsn(database_url: str) -> tuple[str, str | None]:
    """asyncpg's DSN for a `postgresql+asyncpg://` URL, and its `ssl` mode: SQLAlchemy takes
    `?ssl=require` as a connect argument, which asyncpg's DSN would send to the server as a
    setting."""
    url = make_url(database_url)
    query = dict(url.query)
    ssl = query.pop("ssl", None)
    dsn = url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    return dsn, ssl if isinstance(ssl, str) else None


class DecisionRepository:
    """Decisions on approvals, on a small asyncpg pool of its own (the gateway opens one)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, database_url: str, max_size: int = 10) -> DecisionRepository:
        """`database_url` is the SQLAlchemy URL the rest of the gateway uses."""
        dsn, ssl = asyncpg_dsn(database_url)
        pool = await asyncpg.create_pool(
            dsn, ssl=ssl, min_size=1, max_size=max_size, init=_json_codecs
        )
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def record_decision(
        self,
        key_hash: str,
        decider_roles: Sequence[str],
        approval_id: uuid.UUID,
        decision: Decision,
    ) -> DecisionAttempt:
        """Authenticate the key and, if its role is one of `decider_roles`, record the decision
        and its `approval` event when the approval (of the key's tenant) is still open and its
        task not final. Committed when this returns."""
        arguments = _DECISION.arguments(
            {
                "key_hash": key_hash,
                "decider_roles": list(decider_roles),
                "approval_id": approval_id,
                "new_status": OUTCOME_OF_DECISION[decision.kind].value,
                "new_decision": decision.kind.value,
                "new_arguments": decision.arguments,
                "new_comment": decision.comment,
            }
        )
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(_DECISION.sql, *arguments)
        return _DECISION.attempt(row)
