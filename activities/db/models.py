"""Tables. Tenants own API keys and tasks; a task owns its messages, its event log and its
workspace files."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # this tenant's cap on concurrently running tasks; None: settings.tenant_max_concurrent_tasks
    max_concurrent_tasks: Mapped[int | None] = mapped_column(Integer)
    # the highest budgets a submit may ask for (keys of Budgets); unset keys: the settings'
    budget_limits: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # what its model calls may cost in a calendar month (UTC); None: no limit
    monthly_spend_limit_usd: Mapped[Decimal | None] = mapped_column(Numeric(18, 8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(Base):
    """Only the sha256 of a key is stored; the prefix lets people tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32), default="admin")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


UNFINISHED_SQL = "status NOT IN ('succeeded', 'failed', 'cancelled')"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_tasks_tenant_idempotency"),
        Index("ix_tasks_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_tasks_tenant_status", "tenant_id", "status"),
        Index("ix_tasks_agent_status", "agent", "status"),
        # the reconciler's round over tasks not final (services/gateway/task_reconciler.py)
        Index(
            "ix_tasks_unfinished_updated",
            "updated_at",
            "id",
            postgresql_where=text(UNFINISHED_SQL),
        ),
        # the retention job's walk over finished top-level tasks (services/gateway/retention.py)
        Index(
            "ix_tasks_finished_roots",
            "finished_at",
            postgresql_where=text(f"parent_task_id IS NULL AND NOT ({UNFINISHED_SQL})"),
        ),
        Index("ix_tasks_shadow_of", "shadow_of", postgresql_where=text("shadow_of IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    agent: Mapped[str] = mapped_column(String(200))
    # the model group its turns use: the agent's, or the submit's override (null: older tasks)
    model: Mapped[str | None] = mapped_column(String(200))
    # the version of the agent's spec it ran with (activities/db/agent_versions.py)
    agent_version: Mapped[int | None] = mapped_column(Integer)
    # the skill versions its prompt carries: [{name, version, score}] (workflows/contracts/skills)
    skills_used: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(32), default="queued")
    priority: Mapped[int] = mapped_column(SmallInteger, default=3, server_default="3")
    input: Mapped[str] = mapped_column(Text)
    task_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    workflow_id: Mapped[str] = mapped_column(String(100))
    llm_calls: Mapped[int] = mapped_column(Integer, default=0)
    tool_calls: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    iterations: Mapped[int] = mapped_column(Integer, default=0)
    # what its model calls cost (the proxy's figure), its sub-agents' included
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8), default=0, server_default="0")
    # the budgets the task runs under (agent defaults, overridden at submit within limits)
    budgets: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # a sub-agent's task: the task that delegated to it
    parent_task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    # a shadow task: the live task it shadows (activities/db/shadow_runs.py)
    shadow_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Message(Base):
    """One transcript entry. `step_key` makes a retried activity find what it already wrote."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("task_id", "step_key", name="uq_messages_task_step"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    step_key: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    tool_call_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    # a summary made by the memory step: the ids of the messages it stands for
    summary_of: Mapped[list[int] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TaskEvent(Base):
    """The ordered step log of a task; ids are monotonic so clients resume from one."""

    __tablename__ = "task_events"
    __table_args__ = (UniqueConstraint("task_id", "step_key", name="uq_task_events_task_step"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    step_key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Approval(Base):
    """A tool call waiting for (or decided by) a human, with what the approver needs to see.

    The decision is written here first; `signalled_at` stays empty until the workflow has been
    told, so a decision lost to a crash between the two steps is found and sent again.
    """

    __tablename__ = "approvals"
    __table_args__ = (
        UniqueConstraint("task_id", "iteration", "call_id", name="uq_approvals_task_call"),
        Index("ix_approvals_tenant_status_created", "tenant_id", "status", "created_at", "id"),
        Index(
            "ix_approvals_unsignalled",
            "decided_at",
            postgresql_where=text("signalled_at IS NULL AND decided_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    agent: Mapped[str] = mapped_column(String(200))
    iteration: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[str] = mapped_column(String(100))
    tool: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONB)  # as the model proposed them
    reason: Mapped[str] = mapped_column(Text)  # the policy rule that matched
    # reasoning (the model's text of that turn) and recent_messages [{role, content, ...}]
    context: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(32), default="pending")  # ApprovalOutcome
    on_timeout: Mapped[str] = mapped_column(String(16))
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision: Mapped[str | None] = mapped_column(String(16))  # approve | reject | edit
    decided_arguments: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # api_keys.id
    decided_by_name: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WorkspaceFile(Base):
    """One file of a task's workspace, in Postgres so every worker sees the same files."""

    __tablename__ = "workspace_files"
    __table_args__ = (
        PrimaryKeyConstraint("task_id", "path", name="pk_workspace_files"),
        CheckConstraint("size = octet_length(content)", name="ck_workspace_files_size"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PoolReplicas(Base):
    """How many worker processes an operator wants for a pool; the embedded supervisor starts
    or drains workers to match. No row: the pool's `min_replicas`."""

    __tablename__ = "pool_replicas"

    pool: Mapped[str] = mapped_column(String(40), primary_key=True)
    replicas: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class TaskFollower(Base):
    """A live stream of the task open on some gateway (GET .../stream), until `expires_at`:
    the stream pushes it on while it stays open and deletes it when it ends, and a gateway
    that dies leaves a row that simply expires. While a task has one, its model turns are
    streamed so their text can go out as deltas (activities/db/followers.py)."""

    __tablename__ = "task_followers"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TenantSpend(Base):
    """A tenant's spend in one calendar month (UTC): what its recorded model calls cost, and
    what calls in flight have reserved at their worst case (activities/db/spend.py)."""

    __tablename__ = "tenant_spend"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "month"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    month: Mapped[date] = mapped_column(Date)
    spent_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8), server_default="0")
    reserved_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8), server_default="0")


class SpendReservation(Base):
    """One model call's reservation, until its reply is recorded or the call gives up."""

    __tablename__ = "spend_reservations"
    __table_args__ = (PrimaryKeyConstraint("task_id", "step_key"),)

    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE")
    )
    step_key: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    month: Mapped[date] = mapped_column(Date)
    amount_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
