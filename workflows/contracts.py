"""Pydantic models that cross a boundary: REST ⇄ gateway ⇄ Temporal ⇄ activities.

Every workflow, activity and signal takes one of these and returns one. They carry references
(ids) and small values, never whole transcripts: messages live in Postgres.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class TaskStatus(StrEnum):
    queued = "queued"
    running = "running"
    waiting_approval = "waiting_approval"  # a tool call waits for a human decision
    waiting_input = "waiting_input"  # a conversation waits for the user's next message
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.succeeded, TaskStatus.failed, TaskStatus.cancelled)


class ToolCallFormat(StrEnum):
    """How the model expresses tool calls; the agent spec chooses."""

    native = "native"  # OpenAI `tools` + `tool_calls` (SGLang with a tool-call parser)
    text = "text"  # JSON or <tool_call> blocks written in the reply (small models)
    json_schema = "json_schema"  # constrained decoding of an action object


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


class AgentConfig(BaseModel):
    """The part of an agent spec a running task needs, frozen at submit time."""

    name: str
    pool: str = "default"
    model: str = "agent-default"
    system_prompt: str = ""
    tools: list[str] = Field(default_factory=list)
    tool_call_format: ToolCallFormat = ToolCallFormat.text
    max_iterations: int = 8
    temperature: float = 0.0
    max_tokens: int = 512
    approvals: list[ApprovalPolicy] = Field(default_factory=list)
    # a conversation stays open this long for the next user message after each answer
    idle_timeout_seconds: int | None = None
    webhook_url: str | None = None  # called when an approval is requested (else settings')


class Usage(BaseModel):
    llm_calls: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


# --- workflow ---------------------------------------------------------------------------


PRIORITY_HIGHEST, PRIORITY_LOWEST, PRIORITY_DEFAULT = 1, 5, 3


class AdmissionPolicy(BaseModel):
    """How a task waits for a slot under its tenant's cap on running tasks; the gateway sets
    it from its settings at submit (a tenant's own cap, if set, is read at every attempt)."""

    default_cap: int = Field(ge=1)  # for tenants without their own max_concurrent_tasks
    poll_seconds: float = Field(gt=0)  # how soon a refused task asks again (at the front)


class AgentTaskInput(BaseModel):
    task_id: str
    agent: AgentConfig
    # 1 highest … 5 lowest: Temporal's task priority, and the order model calls are admitted in
    priority: int = PRIORITY_DEFAULT
    # None (tasks started before caps existed): the task begins at once
    admission: AdmissionPolicy | None = None
    # set when the workflow continues as new: where the previous run left off
    message_ids: list[int] = Field(default_factory=list)
    iteration: int = 0
    budget_start: int = 0  # the iteration at which the latest user message arrived


class AgentTaskResult(BaseModel):
    task_id: str
    status: TaskStatus
    output: str | None = None
    error: str | None = None
    iterations: int = 0


# --- activities -------------------------------------------------------------------------


class BeginTaskRequest(BaseModel):
    task_id: str
    system_prompt: str
    admission: AdmissionPolicy | None = None  # None: begin without asking for a slot


class BeginTaskResult(BaseModel):
    message_ids: list[int]
    # the task was finished before its workflow began (e.g. cancelled): do nothing more
    final_status: TaskStatus | None = None
    # the tenant is at its cap: nothing was begun; ask again after this many seconds
    wait_seconds: float | None = None


class ModelTurnRequest(BaseModel):
    task_id: str
    iteration: int
    model: str
    message_ids: list[int]
    tools: list[str]
    tool_call_format: ToolCallFormat
    temperature: float = 0.0
    max_tokens: int = 512
    priority: int = PRIORITY_DEFAULT  # the task's; a saturated model server serves high first


class ModelTurnResult(BaseModel):
    message_id: int
    tool_calls: list[ToolCall] = Field(default_factory=list)
    final_text: str | None = None  # set when the turn holds no tool call
    # calls that must not run (e.g. arguments that are not JSON): call id → error for the model
    invalid_calls: dict[str, str] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ToolCallRequest(BaseModel):
    task_id: str
    iteration: int
    call: ToolCall
    rejection: str | None = None  # when set, the call is answered with this error, not run


class ToolCallResult(BaseModel):
    message_id: int
    is_error: bool = False


class FinishTaskRequest(BaseModel):
    task_id: str
    status: TaskStatus
    output: str | None = None
    error: str | None = None
    error_code: str | None = None


class FinishTaskResult(BaseModel):
    status: TaskStatus


class MarkRunningRequest(BaseModel):
    task_id: str


class Empty(BaseModel):
    """For calls that need to say nothing."""


# --- approvals ----------------------------------------------------------------------------


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


class ApprovalDecided(BaseModel):
    """Signal `approval_decided`: sent by the gateway after the decision is in Postgres."""

    approval_id: str
    decision: ApprovalDecisionKind
    arguments: dict[str, Any] | None = None  # for edit: the arguments to run with
    comment: str | None = None


class UserMessageAdded(BaseModel):
    """Signal `user_message_added`: a follow-up the gateway already stored as a message."""

    message_id: int


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


class ExpireApprovalRequest(BaseModel):
    approval_id: str
    action: Literal["reject", "escalate"]
    new_deadline_at: datetime | None = None  # for escalate


class ExpireApprovalResult(BaseModel):
    """What the approval is now; a decision that raced the deadline wins."""

    outcome: ApprovalOutcome
    decision: ApprovalDecided | None = None


class SetStatusRequest(BaseModel):
    task_id: str
    status: TaskStatus
    step_key: str  # unique per change, so a retried activity logs the change once
    output: str | None = None  # the latest answer, while a conversation waits


class NotifyApprovalRequest(BaseModel):
    approval_id: str
    url: str | None = None  # the agent's webhook; else the worker's configured one, if any


EventType = Literal["status", "llm_call", "tool_call", "approval", "message", "admission"]
