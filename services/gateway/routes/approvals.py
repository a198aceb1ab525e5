"""/v1/approvals: the approver's inbox, one approval with its context, deciding it; and
/v1/tasks/{id}/approvals, a task's audit trail of approvals."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from activities.db.approvals import ApprovalRepository
from activities.db.models import Approval
from activities.tools.catalog import ToolCatalog
from services.gateway.approval_decisions import ApprovalDeciderDep
from services.gateway.cursors import encode_cursor, page_start
from services.gateway.deps import (
    ApprovalIdPath,
    DecisionOutboxDep,
    OwnedApprovalDep,
    OwnedTaskDep,
    PrincipalDep,
    SessionDep,
    TemporalDep,
    ToolCatalogDep,
)
from services.gateway.errors import problem_responses
from services.gateway.schemas.approvals import (
    ApprovalAudit,
    ApprovalAuditEntry,
    ApprovalList,
    ApprovalOut,
    ApprovalStatusFilter,
    DecisionCreate,
)

router = APIRouter(tags=["approvals"], responses=problem_responses(401, 422))


@router.get(
    "/v1/approvals", summary="The approval inbox, newest first", responses=problem_responses(400)
)
async def list_approvals(
    principal: PrincipalDep,
    session: SessionDep,
    tools: ToolCatalogDep,
    status_filter: Annotated[
        ApprovalStatusFilter,
        Query(
            alias="status",
            description="`open` (pending or escalated; the default) or one status.",
        ),
    ] = ApprovalStatusFilter.open,
    agent: Annotated[str | None, Query(description="Only approvals of this agent.")] = None,
    task_id: Annotated[uuid.UUID | None, Query(description="Only this task's approvals.")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> ApprovalList:
    """The tenant's approvals, newest first: by default the `open` ones, which still wait for
    a decision. Each comes with its context and the tool's parameter schema."""
    page = await ApprovalRepository(session).list_page(
        principal.tenant_id,
        limit=limit,
        statuses=status_filter.statuses(),
        agent=agent,
        task_id=task_id,
        after=page_start(cursor),
    )
    return ApprovalList(
        items=[_out(approval, tools) for approval in page.approvals],
        next_cursor=encode_cursor(page.next_key) if page.next_key else None,
    )


@router.get(
    "/v1/approvals/{approval_id}",
    summary="An approval, with its context and the tool's schema",
    responses=problem_responses(404),
)
async def get_approval(approval: OwnedApprovalDep, tools: ToolCatalogDep) -> ApprovalOut:
    """One approval: the tool call as the model proposed it, why it waits, its
    deadline, what the model wrote and the conversation before it, the tool's parameter schema
    (for an edit), and the decision once there is one."""
    return _out(approval, tools)


@router.post(
    "/v1/approvals/{approval_id}/decision",
    summary="Approve, reject or edit a waiting tool call",
    response_model=ApprovalOut,
    response_description="The decision is recorded and the task's workflow was told.",
    responses={
        202: {
            "model": ApprovalOut,
            "description": "The decision is recorded; the workflow will be told once the "
            "workflow service is reachable again.",
        },
        **problem_responses(403, 404, 409),
    },
)
async def decide_approval(
    approval_id: ApprovalIdPath,
    body: DecisionCreate,
    decider: ApprovalDeciderDep,
    client: TemporalDep,
    tools: ToolCatalogDep,
    outbox: DecisionOutboxDep,
) -> Response:
    """Decide a tool call that waits for approval; needs role `approver` or `admin`.

    `approve` runs the call as the model proposed it, `edit` runs it with your `arguments`
    (checked against the tool's schema: 422 if they do not fit), `reject` answers the model that
    the call was refused, with your `comment`. The first decision wins: deciding an approval
    that is already decided, timed out or whose task has ended answers 409. The decision is
    stored before the task hears of it, so a 202 means it is safe and will reach the task.
    """
    decided = await decider.decide(approval_id, body)
    told, answer = await outbox.send_now(
        client, decided, render=lambda: _out(decided.approval, tools).model_dump_json()
    )
    code = status.HTTP_200_OK if told else status.HTTP_202_ACCEPTED
    return Response(answer, code, media_type="application/json")


@router.get(
    "/v1/tasks/{task_id}/approvals",
    summary="A task's approvals, oldest first (audit)",
    responses=problem_responses(404),
)
async def list_task_approvals(task: OwnedTaskDep, session: SessionDep) -> ApprovalAudit:
    """Every approval of a task in the order they were requested: who decided what and when,
    their comments, and for an edit how its arguments differ from the model's."""
    approvals = await ApprovalRepository(session).list_for_task(task.id)
    return ApprovalAudit(items=[ApprovalAuditEntry.from_row(approval) for approval in approvals])


def _out(approval: Approval, tools: ToolCatalog) -> ApprovalOut:
    tool = tools.get(approval.tool)
    return ApprovalOut.from_row(approval, tool.parameters if tool is not None else None)
