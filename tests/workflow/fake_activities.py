"""Activities with the real names and contracts but scripted behaviour, for workflow tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.contracts.agents import AgentConfig
from workflows.contracts.approvals import (
    ApprovalDecided,
    ApprovalOutcome,
    ApprovalRef,
    ExpireApprovalRequest,
    ExpireApprovalResult,
    NotifyApprovalRequest,
    RecordedDecisionRequest,
    RecordedDecisionResult,
    RequestApprovalsRequest,
    RequestApprovalsResult,
)
from workflows.contracts.delegation import CloseChildRequest, OpenChildRequest, OpenChildResult
from workflows.contracts.lifecycle import (
    BeginTaskRequest,
    BeginTaskResult,
    Empty,
    FinishTaskRequest,
    FinishTaskResult,
    SetStatusRequest,
)
from workflows.contracts.memory import SummarizeRequest, SummarizeResult
from workflows.contracts.model_turns import (
    MODEL_REQUEST_REJECTED,
    ModelTurnRequest,
    ModelTurnResult,
)
from workflows.contracts.tool_calls import ToolCall, ToolCallRequest, ToolCallResult


@dataclass
class ScriptedActivities:
    """`turns` are the model's replies in order: a list of tool calls, or a final text."""

    turns: list[list[ToolCall] | str]
    finished: list[FinishTaskRequest] = field(default_factory=list)
    model_requests: list[ModelTurnRequest] = field(default_factory=list)
    tool_requests: list[ToolCallRequest] = field(default_factory=list)
    tools_in_flight: int = 0
    max_tools_in_flight: int = 0
    tool_delay: float = 0.0
    model_delay: float = 0.0
    statuses: list[str] = field(default_factory=list)
    approval_requests: list[RequestApprovalsRequest] = field(default_factory=list)
    expirations: list[ExpireApprovalRequest] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    webhook_fails: bool = False
    # decisions a human recorded in "Postgres": what a signal is checked against, and what
    # wins a race with the deadline
    recorded_decisions: dict[str, ApprovalDecided] = field(default_factory=dict)
    # a model turn whose transcript is longer than this many messages asks for a summary
    summarize_above: int | None = None
    summaries: list[SummarizeRequest] = field(default_factory=list)
    # tools the model turn reports as quick (run as local activities by the workflow)
    quick_tools: set[str] = field(default_factory=set)
    turn_tokens: int = 0  # prompt tokens each turn reports
    # tool results: the same text for every call (a stalled task) or one per call
    same_results: bool = False
    failing_calls: set[str] = field(default_factory=set)  # call ids whose result is an error
    # sub-agents: the config open_child answers with, the turns of every child task
    child_agent: AgentConfig | None = None
    child_turns: list[list[ToolCall] | str] = field(default_factory=list)
    opened: list[OpenChildRequest] = field(default_factory=list)
    closed: list[CloseChildRequest] = field(default_factory=list)
    child_blocks: bool = False  # a child's model turn waits until it is cancelled
    models_in_flight: int = 0
    max_models_in_flight: int = 0
    rejected_turn: str | None = None  # every model turn fails with this, as a refused request
    _next_id: int = 100

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    @activity.defn(name="begin_task")
    async def begin_task(self, request: BeginTaskRequest) -> BeginTaskResult:
        return BeginTaskResult(message_ids=[1, 2])

    @activity.defn(name="model_turn")
    async def model_turn(self, request: ModelTurnRequest) -> ModelTurnResult:
        self.model_requests.append(request)
        if self.rejected_turn is not None:
            raise ApplicationError(
                self.rejected_turn, type=MODEL_REQUEST_REJECTED, non_retryable=True
            )
        self.models_in_flight += 1
        self.max_models_in_flight = max(self.max_models_in_flight, self.models_in_flight)
        try:
            if self.model_delay:
                await asyncio.sleep(self.model_delay)
        finally:
            self.models_in_flight -= 1
        limit = self.summarize_above
        if request.summarize_threshold is not None and limit is not None:
            if len(request.message_ids) > limit:
                return ModelTurnResult(message_id=0, needs_summary=True, counted_tokens=999)
        turns = self.turns
        if any(o.child_task_id == request.task_id for o in self.opened):
            turns = self.child_turns
            while self.child_blocks:  # until the worker cancels it
                activity.heartbeat()
                await asyncio.sleep(0.05)
        turn = turns[request.iteration % len(turns)]
        usage = {"prompt_tokens": self.turn_tokens}
        if isinstance(turn, str):
            return ModelTurnResult(message_id=self._id(), final_text=turn, **usage)
        quick = [call.id for call in turn if call.name in self.quick_tools]
        return ModelTurnResult(message_id=self._id(), tool_calls=turn, quick_calls=quick, **usage)

    @activity.defn(name="open_child")
    async def open_child(self, request: OpenChildRequest) -> OpenChildResult:
        self.opened.append(request)
        assert self.child_agent is not None, "set child_agent to delegate"
        return OpenChildResult(agent=self.child_agent, priority=3)

    @activity.defn(name="close_child")
    async def close_child(self, request: CloseChildRequest) -> ToolCallResult:
        self.closed.append(request)
        return ToolCallResult(
            message_id=self._id(), is_error=request.error is not None, digest=request.call_id
        )

    @activity.defn(name="summarize")
    async def summarize(self, request: SummarizeRequest) -> SummarizeResult:
        """Keeps the two opening messages and the last two, replacing the rest by one."""
        self.summaries.append(request)
        ids = request.message_ids
        summary_id = self._id()
        return SummarizeResult(
            message_ids=[*ids[:2], summary_id, *ids[-2:]],
            summary_id=summary_id,
            replaced=len(ids) - 4,
            tokens_before=request.tokens_before,
            tokens_after=100,
            prompt_tokens=50,
            completion_tokens=10,
        )

    @activity.defn(name="run_tool")
    async def run_tool(self, request: ToolCallRequest) -> ToolCallResult:
        self.tool_requests.append(request)
        self.tools_in_flight += 1
        self.max_tools_in_flight = max(self.max_tools_in_flight, self.tools_in_flight)
        try:
            await asyncio.sleep(self.tool_delay)
        finally:
            self.tools_in_flight -= 1
        call = request.call
        digest = "same" if self.same_results else f"{call.name}:{sorted(call.arguments.items())}"
        failed = call.id in self.failing_calls
        return ToolCallResult(message_id=self._id(), digest=digest, is_error=failed)

    @activity.defn(name="finish_task")
    async def finish_task(self, request: FinishTaskRequest) -> FinishTaskResult:
        self.finished.append(request)
        return FinishTaskResult(status=request.status)

    @activity.defn(name="set_status")
    async def set_status(self, request: SetStatusRequest) -> Empty:
        self.statuses.append(request.status.value)
        return Empty()

    @activity.defn(name="request_approvals")
    async def request_approvals(self, request: RequestApprovalsRequest) -> RequestApprovalsResult:
        self.approval_requests.append(request)
        self.statuses.append("waiting_approval")
        return RequestApprovalsResult(
            approvals=[
                ApprovalRef(approval_id=f"appr-{n.call.id}", call_id=n.call.id)
                for n in request.needed
            ]
        )

    @activity.defn(name="expire_approval")
    async def expire_approval(self, request: ExpireApprovalRequest) -> ExpireApprovalResult:
        self.expirations.append(request)
        if request.approval_id in self.recorded_decisions:
            return ExpireApprovalResult(
                outcome=ApprovalOutcome.approved,
                decision=self.recorded_decisions[request.approval_id],
            )
        if request.action == "escalate":
            return ExpireApprovalResult(outcome=ApprovalOutcome.escalated)
        return ExpireApprovalResult(outcome=ApprovalOutcome.timed_out)

    @activity.defn(name="recorded_decision")
    async def recorded_decision(self, request: RecordedDecisionRequest) -> RecordedDecisionResult:
        return RecordedDecisionResult(decision=self.recorded_decisions.get(request.approval_id))

    @activity.defn(name="notify_approval_requested")
    async def notify_approval_requested(self, request: NotifyApprovalRequest) -> None:
        self.notified.append(request.approval_id)
        if self.webhook_fails:
            raise ApplicationError("webhook down", non_retryable=True)

    def all(self) -> list[object]:
        return [
            self.begin_task,
            self.model_turn,
            self.run_tool,
            self.finish_task,
            self.set_status,
            self.request_approvals,
            self.expire_approval,
            self.recorded_decision,
            self.notify_approval_requested,
            self.summarize,
            self.open_child,
            self.close_child,
        ]
