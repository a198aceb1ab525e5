"""Telling a task's workflow about something the gateway already stored in Postgres."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.db.models import Approval
from workflows.contracts.approvals import APPROVAL_DECIDED, ApprovalDecided, ApprovalDecisionKind

SIGNAL_RPC_TIMEOUT = timedelta(seconds=5)


class SignalResult(Enum):
    delivered = "delivered"
    workflow_closed = "workflow_closed"  # finished, or never existed: nobody to tell


async def send_signal(client: Client, workflow_id: str, name: str, arg: BaseModel) -> SignalResult:
    """Signal the workflow's current run. Raises when Temporal could not be reached (the
    caller decides what a failure means); a closed or unknown workflow is not a failure."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.signal(name, arg, rpc_timeout=SIGNAL_RPC_TIMEOUT)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return SignalResult.workflow_closed
        raise
    return SignalResult.delivered


def decision_signal(approval: Approval) -> ApprovalDecided:
    """The `approval_decided` payload of a decided approval row."""
    if approval.decision is None:
        raise ValueError(f"approval {approval.id} has no decision")
    kind = ApprovalDecisionKind(approval.decision)
    return ApprovalDecided(
        approval_id=str(approval.id),
        decision=kind,
        arguments=approval.decided_arguments if kind is ApprovalDecisionKind.edit else None,
        comment=approval.comment,
    )


async def send_decision(client: Client, workflow_id: str, approval: Approval) -> SignalResult:
    """Signal `approval_decided` with a decided approval row."""
    return await send_signal(client, workflow_id, APPROVAL_DECIDED, decision_signal(approval))
