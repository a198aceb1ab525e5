"""Approvals on the worker side: open them with a context snapshot, expire them at their
deadline, and tell a webhook that a human is needed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db.models import Approval, Message, Task
from activities.db.steps import NewEvent, add_event, load_messages
from workflows.contracts import (
    ApprovalDecided,
    ApprovalDecisionKind,
    ApprovalOutcome,
    ApprovalRef,
    ExpireApprovalRequest,
    ExpireApprovalResult,
    NotifyApprovalRequest,
    RequestApprovalsRequest,
    RequestApprovalsResult,
    TaskStatus,
)

RECENT_MESSAGES = 8  # how much of the conversation an approver sees
SNAPSHOT_CHARS = 4000  # per message, so a long tool output cannot bloat the snapshot

_DECISION_OF_OUTCOME = {
    ApprovalOutcome.approved: ApprovalDecisionKind.approve,
    ApprovalOutcome.rejected: ApprovalDecisionKind.reject,
    ApprovalOutcome.edited: ApprovalDecisionKind.edit,
}


class ApprovalActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        default_webhook_url: str | None = None,
    ) -> None:
        """`http` is a plain client (no base URL, no credentials) for webhooks."""
        self._sessions = session_factory
        self._http = http
        self._default_webhook_url = default_webhook_url

    @activity.defn
    async def request_approvals(self, request: RequestApprovalsRequest) -> RequestApprovalsResult:
        """Create one approval per waiting call (once, however often retried) and mark the
        task waiting_approval, in one transaction."""
        async with self._sessions.begin() as session:
            task = await session.get(Task, uuid.UUID(request.task_id), with_for_update=True)
            if task is None:
                raise ApplicationError("task is gone", type="TaskMissing", non_retryable=True)
            rows = await load_messages(session, request.task_id, request.message_ids)
            reasoning = next(
                (row.content for row in rows if row.id == request.assistant_message_id), None
            )
            context = {
                "reasoning": reasoning,
                "recent_messages": [_snapshot(row) for row in rows[-RECENT_MESSAGES:]],
            }
            refs = []
            for needed in request.needed:
                approval_id = await session.scalar(
                    insert(Approval)
                    .values(
                        id=uuid.uuid4(),
                        task_id=task.id,
                        tenant_id=task.tenant_id,
                        agent=task.agent,
                        iteration=request.iteration,
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
                refs.append(ApprovalRef(approval_id=str(approval_id), call_id=needed.call.id))
                await add_event(
                    session,
                    request.task_id,
                    f"approval:{approval_id}:requested",
                    NewEvent(
                        "approval",
                        {
                            "approval_id": str(approval_id),
                            "tool": needed.call.name,
                            "state": "requested",
                            "reason": needed.reason,
                            "deadline_at": needed.deadline_at.isoformat(),
                        },
                    ),
                )
            if not TaskStatus(task.status).is_final:
                task.status = TaskStatus.waiting_approval.value
                task.updated_at = datetime.now(UTC)
                await add_event(
                    session,
                    request.task_id,
                    f"status:waiting_approval:{request.iteration}",
                    NewEvent("status", {"status": TaskStatus.waiting_approval.value}),
                )
        return RequestApprovalsResult(approvals=refs)

    @activity.defn
    async def expire_approval(self, request: ExpireApprovalRequest) -> ExpireApprovalResult:
        """The deadline passed: reject or escalate, unless a decision got there first."""
        approval_id = uuid.UUID(request.approval_id)
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            approval = await session.get(Approval, approval_id, with_for_update=True)
            if approval is None:
                raise ApplicationError(
                    "approval is gone", type="ApprovalMissing", non_retryable=True
                )
            outcome = ApprovalOutcome(approval.status)
            if outcome in _DECISION_OF_OUTCOME:  # a human decided just in time
                return ExpireApprovalResult(outcome=outcome, decision=_decision_of(approval))
            if not outcome.is_open:
                return ExpireApprovalResult(outcome=outcome)
            if request.action == "escalate" and outcome is ApprovalOutcome.pending:
                values: dict[str, Any] = {
                    "status": ApprovalOutcome.escalated.value,
                    "escalated_at": now,
                    "deadline_at": request.new_deadline_at,
                }
                new = ApprovalOutcome.escalated
            else:
                values = {
                    "status": ApprovalOutcome.timed_out.value,
                    "decision": ApprovalDecisionKind.reject.value,
                    "comment": "no decision before the deadline",
                    "decided_at": now,
                    "signalled_at": now,  # the workflow decided it; nothing to send
                }
                new = ApprovalOutcome.timed_out
            await session.execute(
                update(Approval).where(Approval.id == approval_id).values(**values)
            )
            await add_event(
                session,
                str(approval.task_id),
                f"approval:{approval_id}:{new.value}",
                NewEvent(
                    "approval",
                    {"approval_id": str(approval_id), "tool": approval.tool, "state": new.value},
                ),
            )
        return ExpireApprovalResult(outcome=new)

    @activity.defn
    async def notify_approval_requested(self, request: NotifyApprovalRequest) -> None:
        """POST the approval to a webhook; Temporal retries a failure with backoff."""
        url = request.url or self._default_webhook_url
        if url is None:
            return
        async with self._sessions() as session:
            approval = await session.get(Approval, uuid.UUID(request.approval_id))
        if approval is None:
            return
        payload = {
            "event": "approval.requested",
            "approval": {
                "id": str(approval.id),
                "task_id": str(approval.task_id),
                "agent": approval.agent,
                "tool": approval.tool,
                "arguments": approval.arguments,
                "reason": approval.reason,
                "deadline_at": approval.deadline_at.isoformat(),
                "status": approval.status,
            },
            "links": {
                "api": f"/v1/approvals/{approval.id}",
                "ui": f"/ui/approvals#{approval.id}",
            },
        }
        try:
            response = await self._http.post(url, json=payload, timeout=10)
        except httpx.HTTPError as exc:
            raise ApplicationError(f"webhook unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise ApplicationError(f"webhook answered {response.status_code}")


def _decision_of(approval: Approval) -> ApprovalDecided:
    return ApprovalDecided(
        approval_id=str(approval.id),
        decision=_DECISION_OF_OUTCOME[ApprovalOutcome(approval.status)],
        arguments=approval.decided_arguments,
        comment=approval.comment,
    )


def _snapshot(row: Message) -> dict[str, Any]:
    item: dict[str, Any] = {"role": row.role, "content": (row.content or "")[:SNAPSHOT_CHARS]}
    if row.tool_calls:
        item["tool_calls"] = row.tool_calls
    if row.name:
        item["name"] = row.name
    return item
