"""Bodies of /v1/approvals and /v1/tasks/{id}/approvals: the inbox, one approval, a decision,
a task's audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from activities.db.models import Approval
from services.gateway.schemas.examples import EXAMPLE_TASK_ID, EXAMPLE_TIME
from workflows.contracts.approvals import ApprovalDecisionKind, ApprovalOutcome

MAX_COMMENT_CHARS = 4000


class ApprovalStatusFilter(StrEnum):
    """`open` (pending or escalated: still waiting for someone) or one ApprovalOutcome."""

    open = "open"
    pending = "pending"
    escalated = "escalated"
    approved = "approved"
    rejected = "rejected"
    edited = "edited"
    timed_out = "timed_out"
    cancelled = "cancelled"

    def statuses(self) -> list[str]:
        if self is ApprovalStatusFilter.open:
            return [outcome.value for outcome in ApprovalOutcome if outcome.is_open]
        return [ApprovalOutcome(self.value).value]


class DecisionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "approve"},
                {"decision": "reject", "comment": "not to that address"},
                {
                    "decision": "edit",
                    "arguments": {"to": "ops@example.com"},
                    "comment": "send it to ops instead",
                },
            ]
        },
    )

    decision: ApprovalDecisionKind = Field(
        description="`approve` runs the call as proposed, `reject` answers the model that it "
        "was refused, `edit` runs it with `arguments` instead."
    )
    arguments: dict[str, Any] | None = Field(
        default=None,
        description="For `edit` (required there, refused otherwise): the complete arguments "
        "to run the tool with; checked against the tool's parameter schema.",
    )
    comment: str | None = Field(
        default=None,
        max_length=MAX_COMMENT_CHARS,
        description="Why; stored with the decision and passed to the agent.",
    )

    @model_validator(mode="after")
    def _arguments_only_for_edit(self) -> DecisionCreate:
        if self.decision is ApprovalDecisionKind.edit and self.arguments is None:
            raise ValueError("an edit needs `arguments`: the arguments to run the tool with")
        if self.decision is not ApprovalDecisionKind.edit and self.arguments is not None:
            raise ValueError(f"`arguments` are only accepted with `edit`, not `{self.decision}`")
        return self


class DecisionOut(BaseModel):
    decision: ApprovalDecisionKind
    arguments: dict[str, Any] | None = Field(description="For `edit`: the arguments run.")
    comment: str | None
    decided_by: str | None = Field(
        description="Name of the API key that decided; null when the deadline decided."
    )
    decided_at: datetime


class ApprovalContext(BaseModel):
    reasoning: str | None = Field(description="What the model wrote in the turn it asked.")
    recent_messages: list[dict[str, Any]] = Field(
        description="The last messages of the conversation then: {role, content, ...}."
    )


class ApprovalOut(BaseModel):
    """An approval with what an approver needs to decide it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5d0e8a7c-2f0b-4d8e-9a51-0c6b7e1f2a34",
                    "task_id": EXAMPLE_TASK_ID,
                    "agent": "file-clerk",
                    "tool": "write_file",
                    "arguments": {"path": "reports/q3.txt", "content": "revenue up"},
                    "reason": "write_file: path is outside 'drafts/'",
                    "status": "pending",
                    "on_timeout": "reject",
                    "deadline_at": EXAMPLE_TIME,
                    "escalated_at": None,
                    "created_at": EXAMPLE_TIME,
                    "context": {
                        "reasoning": "I will save the report.",
                        "recent_messages": [
                            {"role": "user", "content": "save the Q3 report"},
                            {"role": "assistant", "content": "I will save the report."},
                        ],
                    },
                    "tool_schema": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string"},
                            "content": {"type": "string"},
                        },
                        "required": ["path", "content"],
                    },
                    "decision": None,
                }
            ]
        }
    )

    id: uuid.UUID
    task_id: uuid.UUID
    agent: str
    tool: str
    arguments: dict[str, Any] = Field(description="The arguments as the model proposed them.")
    reason: str = Field(description="The policy rule that made this call wait.")
    status: ApprovalOutcome
    on_timeout: str = Field(description="`reject` or `escalate` when the deadline passes.")
    deadline_at: datetime
    escalated_at: datetime | None
    created_at: datetime
    context: ApprovalContext
    tool_schema: dict[str, Any] | None = Field(
        description="The tool's JSON schema of parameters, to build an edit form; null when "
        "the gateway does not know the tool."
    )
    decision: DecisionOut | None

    @classmethod
    def from_row(cls, approval: Approval, tool_schema: dict[str, Any] | None) -> ApprovalOut:
        context = approval.context or {}
        return cls(
            id=approval.id,
            task_id=approval.task_id,
            agent=approval.agent,
            tool=approval.tool,
            arguments=approval.arguments,
            reason=approval.reason,
            status=ApprovalOutcome(approval.status),
            on_timeout=approval.on_timeout,
            deadline_at=approval.deadline_at,
            escalated_at=approval.escalated_at,
            created_at=approval.created_at,
            context=ApprovalContext(
                reasoning=context.get("reasoning"),
                recent_messages=list(context.get("recent_messages") or []),
            ),
            tool_schema=tool_schema,
            decision=_decision_of(approval),
        )


class ApprovalList(BaseModel):
    items: list[ApprovalOut] = Field(description="Approvals, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class ArgumentChange(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: Any = Field(alias="from", serialization_alias="from")
    to: Any


class ArgumentDiff(BaseModel):
    changed: dict[str, ArgumentChange] = Field(default_factory=dict)
    added: dict[str, Any] = Field(default_factory=dict)
    removed: list[str] = Field(default_factory=list)


def argument_diff(proposed: dict[str, Any], decided: dict[str, Any]) -> ArgumentDiff:
    """How an approver's edit differs from the model's proposal, argument by argument."""
    return ArgumentDiff(
        changed={
            name: ArgumentChange(from_=proposed[name], to=decided[name])
            for name in sorted(proposed.keys() & decided.keys())
            if proposed[name] != decided[name]
        },
        added={name: decided[name] for name in sorted(decided.keys() - proposed.keys())},
        removed=sorted(proposed.keys() - decided.keys()),
    )


class ApprovalAuditEntry(BaseModel):
    id: uuid.UUID
    call_id: str
    requested_at: datetime
    tool: str
    arguments: dict[str, Any] = Field(description="As the model proposed them.")
    reason: str
    status: ApprovalOutcome
    escalated_at: datetime | None
    deadline_at: datetime
    decision: ApprovalDecisionKind | None
    decided_by: str | None = Field(description="The deciding API key's name; null if none.")
    decided_at: datetime | None
    comment: str | None
    argument_diff: ArgumentDiff | None = Field(
        description="For edits: {changed: {name: {from, to}}, added: {name: value}, "
        "removed: [names]}."
    )

    @classmethod
    def from_row(cls, approval: Approval) -> ApprovalAuditEntry:
        decision = ApprovalDecisionKind(approval.decision) if approval.decision else None
        diff = None
        if decision is ApprovalDecisionKind.edit and approval.decided_arguments is not None:
            diff = argument_diff(approval.arguments, approval.decided_arguments)
        return cls(
            id=approval.id,
            call_id=approval.call_id,
            requested_at=approval.created_at,
            tool=approval.tool,
            arguments=approval.arguments,
            reason=approval.reason,
            status=ApprovalOutcome(approval.status),
            escalated_at=approval.escalated_at,
            deadline_at=approval.deadline_at,
            decision=decision,
            decided_by=approval.decided_by_name,
            decided_at=approval.decided_at,
            comment=approval.comment,
            argument_diff=diff,
        )


class ApprovalAudit(BaseModel):
    items: list[ApprovalAuditEntry] = Field(description="The task's approvals, oldest first.")


def _decision_of(approval: Approval) -> DecisionOut | None:
    if approval.decision is None or approval.decided_at is None:
        return None
    kind = ApprovalDecisionKind(approval.decision)
    return DecisionOut(
        decision=kind,
        arguments=approval.decided_arguments if kind is ApprovalDecisionKind.edit else None,
        comment=approval.comment,
        decided_by=approval.decided_by_name,
        decided_at=approval.decided_at,
    )
