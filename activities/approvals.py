"""Approvals on the worker side: open them with a context snapshot, expire them at their
deadline, and tell a webhook that a human is needed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db.approvals import ApprovalRepository
from activities.db.events import EventRepository, NewEvent, status_event
from activities.db.messages import MessageRepository
from activities.db.models import Approval, Message
from activities.db.tasks import TaskRepository
from activities.lifecycle import lock_task
from activities.trace_export import NO_TRACE_EXPORT, TraceExport
from activities.webhooks import WebhookRefused, WebhookUnresolvable, check_target, signed_request
from workflows.contracts.approvals import (
    APPROVAL_MISSING,
    DECISION_OF_OUTCOME,
    WEBHOOK_REFUSED,
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
from workflows.contracts.tasks import TaskStatus

RECENT_MESSAGES = 8  # how much of the conversation an approver sees
SNAPSHOT_CHARS = 4000  # per message, so a long tool output cannot bloat the snapshot


class ApprovalActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        default_webhook_url: str | None = None,
        webhook_secrets: Mapping[str, str] | None = None,
        allow_private_targets: bool = False,
        trace: TraceExport = NO_TRACE_EXPORT,
    ) -> None:
        """`http` is a plain client (no base URL, no credentials) for webhooks;
        `webhook_secrets` holds each receiver's signing secret by its URL; `trace` is told
        when a wait for a human ends."""
        self._sessions = session_factory
        self._http = http
        self._default_webhook_url = default_webhook_url
        self._secrets = dict(webhook_secrets or {})
        self._allow_private = allow_private_targets
        self._trace = trace

    @activity.defn
    async def request_approvals(self, request: RequestApprovalsRequest) -> RequestApprovalsResult:
        """Create one approval per waiting call (once, however often retried) and mark the
        task waiting_approval, in one transaction."""
        async with self._sessions.begin() as session:
            task = await lock_task(session, request.task_id)
            rows = await MessageRepository(session).load(task.id, request.message_ids)
            reasoning = next(
                (row.content for row in rows if row.id == request.assistant_message_id), None
            )
            context = {
                "reasoning": reasoning,
                "recent_messages": [_snapshot(row) for row in rows[-RECENT_MESSAGES:]],
            }
            approvals, events = ApprovalRepository(session), EventRepository(session)
            refs = []
            for needed in request.needed:
                approval_id = await approvals.open(task, request.iteration, needed, context)
                refs.append(ApprovalRef(approval_id=str(approval_id), call_id=needed.call.id))
                requested = {
                    "approval_id": str(approval_id),
                    "tool": needed.call.name,
                    "state": "requested",
                    "reason": needed.reason,
                    "deadline_at": needed.deadline_at.isoformat(),
                }
                await events.add(
                    task.id, f"approval:{approval_id}:requested", NewEvent("approval", requested)
                )
            if not TaskStatus(task.status).is_final:
                waiting = TaskStatus.waiting_approval
                TaskRepository(session).change_status(task, waiting, output=None)
                step = f"status:{waiting.value}:{request.iteration}"
                await events.add(task.id, step, status_event(waiting))
        return RequestApprovalsResult(approvals=refs)

    @activity.defn
    async def recorded_decision(self, request: RecordedDecisionRequest) -> RecordedDecisionResult:
        """The decision stored for an approval: a signal is only a wake-up, what runs is this."""
        async with self._sessions() as session:
            approval = await ApprovalRepository(session).find(uuid.UUID(request.approval_id))
        if approval is None or ApprovalOutcome(approval.status) not in DECISION_OF_OUTCOME:
            return RecordedDecisionResult()
        self._trace.approval_ended(request.approval_id)
        return RecordedDecisionResult(decision=_decision_of(approval))

    @activity.defn
    async def expire_approval(self, request: ExpireApprovalRequest) -> ExpireApprovalResult:
        """The deadline passed: reject or escalate, unless a decision got there first."""
        approval_id = uuid.UUID(request.approval_id)
        async with self._sessions.begin() as session:
            approvals = ApprovalRepository(session)
            approval = await approvals.lock(approval_id)
            if approval is None:
                raise ApplicationError(
                    "approval is gone", type=APPROVAL_MISSING, non_retryable=True
                )
            outcome = ApprovalOutcome(approval.status)
            if outcome in DECISION_OF_OUTCOME:  # a human decided just in time
                self._trace.approval_ended(request.approval_id)
                return ExpireApprovalResult(outcome=outcome, decision=_decision_of(approval))
            if not outcome.is_open:
                return ExpireApprovalResult(outcome=outcome)
            if request.action == "escalate" and outcome is ApprovalOutcome.pending:
                await approvals.escalate(approval_id, request.new_deadline_at)
                new = ApprovalOutcome.escalated
            else:
                await approvals.time_out(approval_id)
                new = ApprovalOutcome.timed_out
            state = {"approval_id": str(approval_id), "tool": approval.tool, "state": new.value}
            await EventRepository(session).add(
                approval.task_id, f"approval:{approval_id}:{new.value}", NewEvent("approval", state)
            )
        if new is ApprovalOutcome.timed_out:
            self._trace.approval_ended(request.approval_id)
        return ExpireApprovalResult(outcome=new)

    @activity.defn
    async def notify_approval_requested(self, request: NotifyApprovalRequest) -> None:
        """POST the approval to a webhook; Temporal retries a failure with backoff."""
        url = request.url or self._default_webhook_url
        if url is None:
            return
        async with self._sessions() as session:
            approval = await ApprovalRepository(session).find(uuid.UUID(request.approval_id))
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
        secret = self._secrets.get(url)
        try:
            if secret is None:
                raise WebhookRefused(
                    f"no signing secret for webhook receiver {url}; set it in "
                    "AGENTRY_WEBHOOK_SECRETS (or AGENTRY_APPROVAL_WEBHOOK_SECRET)"
                )
            target = await check_target(url, self._allow_private)
        except WebhookRefused as exc:
            raise ApplicationError(str(exc), type=WEBHOOK_REFUSED, non_retryable=True) from None
        except WebhookUnresolvable as exc:
            raise ApplicationError(str(exc)) from None  # retried: DNS may come back
        body, headers = signed_request(payload, secret, f"approval.requested:{approval.id}")
        try:
            response = await self._http.post(
                target.url,
                content=body,
                headers={**headers, **target.headers},
                extensions=target.extensions,
                timeout=10,
            )
        except httpx.HTTPError as exc:
            raise ApplicationError(f"webhook unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise ApplicationError(f"webhook answered {response.status_code}")


def _decision_of(approval: Approval) -> ApprovalDecided:
    return ApprovalDecided(
        approval_id=str(approval.id),
        decision=DECISION_OF_OUTCOME[ApprovalOutcome(approval.status)],
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
