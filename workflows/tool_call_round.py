"""The tool-call round of one model turn: every call the model asked for runs, those a policy
holds only after a human decided. Deterministic workflow code, used by AgentTaskWorkflow.

Waiting costs no worker slot: it is a workflow condition with a timer, not an activity.
At a deadline the approval is auto-rejected or escalated (the policy says which); a human
decision that raced the deadline wins, because Postgres decides which came first.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

# approvals act on the decision Postgres holds, not on the signal's (histories before: off)
VERIFIED_DECISIONS_PATCH = "verified-decisions"
LOCAL_QUICK_TOOLS_PATCH = "local-quick-tools"  # quick tools as local activities

with workflow.unsafe.imports_passed_through():
    from activities.approvals import ApprovalActivities
    from activities.tool_calls import ToolCallActivities
    from workflows import policies
    from workflows.approval_policy import approval_needed
    from workflows.bookkeeping import local_first, store_step
    from workflows.contracts.approvals import (
        ApprovalDecided,
        ApprovalDecisionKind,
        ApprovalNeeded,
        ApprovalOutcome,
        ExpireApprovalRequest,
        NotifyApprovalRequest,
        RecordedDecisionRequest,
        RecordedDecisionResult,
        RequestApprovalsRequest,
    )
    from workflows.contracts.delegation import DELEGATE_TOOL
    from workflows.contracts.model_turns import ModelTurnResult
    from workflows.contracts.shadow import DryRun
    from workflows.contracts.tasks import AgentTaskInput, TaskStatus
    from workflows.contracts.tool_calls import ToolCall, ToolCallRequest, ToolCallResult
    from workflows.delegation import delegate
    from workflows.task_status import set_status

TIMED_OUT = "no approver decided before the deadline, so the call was not run"


class ToolCallRound:
    """Runs one turn's tool calls: the free ones at once and concurrently, the held ones as
    their decisions (or deadlines) come in."""

    def __init__(
        self,
        task: AgentTaskInput,
        iteration: int,
        turn: ModelTurnResult,
        message_ids: list[int],
        decisions: dict[str, ApprovalDecided],
    ) -> None:
        """`decisions` is the workflow's signal inbox, filled while we wait."""
        self._task = task
        self._iteration = iteration
        self._turn = turn
        self._message_ids = message_ids
        self._decisions = decisions
        self._background: list[asyncio.Task[None]] = []  # webhook calls nobody waits for
        # a shadow task: nothing with side effects. No workflow.patched gate: only tasks started
        # with shadow_of take the new path, and no history recorded before it has one
        self._shadow = task.shadow_of is not None
        self._held: set[str] = set()  # a shadow's calls a policy would hold: dry-run

    async def run(self) -> list[ToolCallResult]:
        """Run the turn's calls; return their results in call order."""
        calls = self._turn.tool_calls
        needed = self._needed(calls)
        results: dict[str, asyncio.Future[ToolCallResult]] = {}
        for call in calls:
            if call.id not in needed:
                rejection = self._turn.invalid_calls.get(call.id)
                results[call.id] = asyncio.ensure_future(self._run(call, rejection))
        resumed: list[asyncio.Future[None]] = []
        if needed:
            decided = await self._wait_for_humans(needed)
            # the status update must not delay the decided calls: schedule them together
            resumed.append(
                asyncio.ensure_future(set_status(self._task.task_id, TaskStatus.running))
            )
            for call in calls:
                if call.id in needed:
                    results[call.id] = asyncio.ensure_future(self._run_decided(call, decided))
        done = list(await asyncio.gather(*(results[call.id] for call in calls)))
        await asyncio.gather(*resumed)
        return done

    def _needed(self, calls: list[ToolCall]) -> dict[str, ApprovalNeeded]:
        needed: dict[str, ApprovalNeeded] = {}
        for call in calls:
            if call.id in self._turn.invalid_calls:
                continue  # answered with its error, nothing to approve
            found = approval_needed(self._task.agent.approvals, call)
            if found is None:
                continue
            policy, reason = found
            if self._shadow:  # a shadow task never asks a person
                self._held.add(call.id)
                continue
            needed[call.id] = ApprovalNeeded(
                call=call,
                reason=reason,
                deadline_at=workflow.now() + timedelta(seconds=policy.deadline_seconds),
                on_timeout=policy.on_timeout,
                escalation_deadline_seconds=policy.escalation_deadline_seconds,
            )
        return needed

    async def _wait_for_humans(
        self, needed: dict[str, ApprovalNeeded]
    ) -> dict[str, ApprovalDecided]:
        """Open the approvals, then wait for every decision or deadline; call id → decision."""
        opened = await store_step(
            ApprovalActivities.request_approvals,
            RequestApprovalsRequest(
                task_id=self._task.task_id,
                iteration=self._iteration,
                assistant_message_id=self._turn.message_id,
                message_ids=self._message_ids,
                needed=list(needed.values()),
            ),
        )
        call_of = {ref.approval_id: ref.call_id for ref in opened.approvals}
        for approval_id in call_of:
            self._background.append(asyncio.create_task(self._notify(approval_id)))
        deadlines: dict[str, datetime] = {a: needed[c].deadline_at for a, c in call_of.items()}
        escalated: set[str] = set()
        resolved: dict[str, ApprovalDecided] = {}
        while True:
            for approval_id in call_of:
                if approval_id not in resolved and approval_id in self._decisions:
                    decision = await self._verified(approval_id)
                    if decision is not None:
                        resolved[approval_id] = decision
            waiting = [a for a in call_of if a not in resolved]
            if not waiting:
                return {call_of[a]: decision for a, decision in resolved.items()}
            due = min(deadlines[a] for a in waiting)
            timeout = max((due - workflow.now()).total_seconds(), 0.001)
            try:
                await workflow.wait_condition(
                    lambda waiting=waiting: any(a in self._decisions for a in waiting),  # type: ignore[misc]
                    timeout=timeout,
                )
                continue
            except TimeoutError:
                pass
            for approval_id in waiting:
                if deadlines[approval_id] > workflow.now():
                    continue
                need = needed[call_of[approval_id]]
                escalate = need.on_timeout == "escalate" and approval_id not in escalated
                new_deadline = workflow.now() + timedelta(seconds=need.escalation_deadline_seconds)
                expired = await store_step(
                    ApprovalActivities.expire_approval,
                    ExpireApprovalRequest(
                        approval_id=approval_id,
                        action="escalate" if escalate else "reject",
                        new_deadline_at=new_deadline if escalate else None,
                    ),
                )
                if expired.decision is not None:
                    resolved[approval_id] = expired.decision
                elif expired.outcome is ApprovalOutcome.escalated:
                    escalated.add(approval_id)
                    deadlines[approval_id] = new_deadline
                    self._background.append(asyncio.create_task(self._notify(approval_id)))
                else:
                    resolved[approval_id] = ApprovalDecided(
                        approval_id=approval_id,
                        decision=ApprovalDecisionKind.reject,
                        comment=TIMED_OUT,
                    )

    async def _verified(self, approval_id: str) -> ApprovalDecided | None:
        """The decision to act on: the one Postgres holds, whatever the signal said; None (and
        the signal forgotten) when Postgres holds none, so only a recorded decision runs."""
        signalled = self._decisions[approval_id]
        if not workflow.patched(VERIFIED_DECISIONS_PATCH):
            return signalled  # histories from before the check
        recorded: RecordedDecisionResult = await store_step(
            ApprovalActivities.recorded_decision,
            RecordedDecisionRequest(approval_id=approval_id),
        )
        if recorded.decision != signalled:
            workflow.logger.warning(
                "approval %s: the signalled decision is not the recorded one (%s); acting on "
                "the record", approval_id, "none yet" if recorded.decision is None else "another",
            )  # fmt: skip
        if recorded.decision is None:
            self._decisions.pop(approval_id, None)
        return recorded.decision

    async def _run_decided(
        self, call: ToolCall, decided: dict[str, ApprovalDecided]
    ) -> ToolCallResult:
        decision = decided[call.id]
        if decision.decision is ApprovalDecisionKind.reject:
            comment = decision.comment or "no reason given"
            return await self._run(call, f"the approver rejected this call: {comment}")
        if decision.decision is ApprovalDecisionKind.edit and decision.arguments is not None:
            call = call.model_copy(update={"arguments": decision.arguments})
        return await self._run(call, None)

    async def _run(self, call: ToolCall, rejection: str | None) -> ToolCallResult:
        dry_run = self._dry_run(call)
        delegating = call.name == DELEGATE_TOOL and self._task.agent.sub_agents
        if rejection is None and delegating and dry_run is None:
            return await delegate(self._task, self._iteration, call)
        request = ToolCallRequest(
            task_id=self._task.task_id,
            iteration=self._iteration,
            call=call,
            rejection=rejection,
            dry_run=dry_run,
        )
        # the patch: a history whose quick calls an older worker ran as activities replays
        if call.id in self._turn.quick_calls and workflow.patched(LOCAL_QUICK_TOOLS_PATCH):
            return await local_first(
                ToolCallActivities.run_tool,
                request,
                policies.QUICK_TOOL_TIMEOUT,
                policies.QUICK_TOOL_LIMIT,
                policies.QUICK_TOOL_RETRY,
                policies.TOOL_CALL_STEP,
            )
        return await workflow.execute_activity_method(
            ToolCallActivities.run_tool, request, **policies.TOOL_CALL_STEP
        )

    def _dry_run(self, call: ToolCall) -> DryRun | None:
        """How a shadow task's call is dry-run (None for a live task's: it runs)."""
        if not self._shadow:
            return None
        if call.id in self._held:
            return DryRun.approval
        if call.name == DELEGATE_TOOL:
            return DryRun.delegation
        return DryRun.side_effects  # the activity knows whether the tool has side effects

    async def _notify(self, approval_id: str) -> None:
        """Tell a webhook; its failure is logged and never blocks the task."""
        try:
            await workflow.execute_activity_method(
                ApprovalActivities.notify_approval_requested,
                NotifyApprovalRequest(approval_id=approval_id, url=self._task.agent.webhook_url),
                start_to_close_timeout=policies.WEBHOOK_TIMEOUT,
                retry_policy=policies.WEBHOOK_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning("approval webhook for %s failed: %s", approval_id, exc.cause)
