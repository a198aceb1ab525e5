"""Approvals: which tool calls wait for a human, the decision signal, and the activities that
open and expire approvals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from workflows.contracts.tool_calls import ToolCall

APPROVAL_DECIDED = "approval_decided"
"""Signal name: the gateway stored a decision on one of the task's approvals."""

APPROVAL_MISSING = "ApprovalMissing"
WEBHOOK_REFUSED = "WebhookRefused"  # no secret for the receiver, or a private target
"""Error type: the approval an activity was asked about no longer exists."""


class ArgumentRule(BaseModel):
    """A condition on one argument of a tool call; when it holds, the call needs approval.

    ops: gt/gte/lt/lte (numbers), eq/ne, in/not_in (a list), matches (regex search),
    outside/inside (a path relative to a folder, after normalising `..`).
    """

    argument: str
    op: Literal[
        "gt", "gte", "lt", "lte", "eq", "ne", "in", "not_in", "matches", "outside", "inside"
    ]
    value: Any


class ApprovalPolicy(BaseModel):
    """Which calls of one tool wait for a human, and what happens if nobody decides."""

    tool: str
    when: list[ArgumentRule] = Field(default_factory=list)  # any rule holds; empty: every call
    deadline_seconds: int = Field(default=86_400, gt=0)
    on_timeout: Literal["reject", "escalate"] = "reject"
    # after an escalation, the call is auto-rejected if still undecided after this long
    escalation_deadline_seconds: int = Field(default=86_400, gt=0)


class ApprovalDecisionKind(StrEnum):
    approve = "approve"
    reject = "reject"
    edit = "edit"


class ApprovalOutcome(StrEnum):
    """How an approval ended (or `pending`/`escalated` while it waits)."""

    pending = "pending"
    escalated = "escalated"  # the deadline passed; escalated, still waiting
    approved = "approved"
    rejected = "rejected"
    edited = "edited"
    timed_out = "timed_out"  # auto-rejected at the deadline
    cancelled = "cancelled"  # the task ended first

    @property
    def is_open(self) -> bool:
        return self in (ApprovalOutcome.pending, ApprovalOutcome.escalated)


OUTCOME_OF_DECISION = {
    ApprovalDecisionKind.approve: ApprovalOutcome.approved,
    ApprovalDecisionKind.reject: ApprovalOutcome.rejected,
    ApprovalDecisionKind.edit: ApprovalOutcome.edited,
}
DECISION_OF_OUTCOME = {outcome: kind for kind, outcome in OUTCOME_OF_DECISION.items()}


class ApprovalDecided(BaseModel):
    """Signal `approval_decided`: sent by the gateway after the decision is in Postgres."""

    approval_id: str
    decision: ApprovalDecisionKind
    arguments: dict[str, Any] | None = None  # for edit: the arguments to run with
    comment: str | None = None


class ApprovalNeeded(BaseModel):
    call: ToolCall
    reason: str  # which rule matched, for the approver
    deadline_at: datetime
    on_timeout: Literal["reject", "escalate"]
    escalation_deadline_seconds: int


class RequestApprovalsRequest(BaseModel):
    task_id: str
    iteration: int
    assistant_message_id: int
    message_ids: list[int]  # the conversation so far, for the context snapshot
    needed: list[ApprovalNeeded]
    webhook_url: str | None = None


class ApprovalRef(BaseModel):
    approval_id: str
    call_id: str


class RequestApprovalsResult(BaseModel):
    approvals: list[ApprovalRef]


class RecordedDecisionRequest(BaseModel):
    approval_id: str


class RecordedDecisionResult(BaseModel):
    """The decision Postgres holds for the approval; None while it is undecided."""

    decision: ApprovalDecided | None = None


class ExpireApprovalRequest(BaseModel):
    approval_id: str
    action: Literal["reject", "escalate"]
    new_deadline_at: datetime | None = None  # for escalate


class ExpireApprovalResult(BaseModel):
    """What the approval is now; a decision that raced the deadline wins."""

    outcome: ApprovalOutcome
    decision: ApprovalDecided | None = None


class NotifyApprovalRequest(BaseModel):
    approval_id: str
    url: str | None = None  # the agent's webhook; else the worker's configured one, if any
