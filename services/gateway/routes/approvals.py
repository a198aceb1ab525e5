"""/v1/approvals: the approver's inbox, one approval with its context, deciding it; and
/v1/tasks/{id}/approvals, a task's audit trail of approvals."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.approvals import ApprovalRepository
from activities.db.decisions import Decision
from activities.db.models import Approval
from activities.db.tasks import TaskRepository
from activities.tool_registry import ToolArgumentError, ToolRegistry, UnknownToolError
from services.gateway.approval_schemas import (
    ApprovalAudit,
    ApprovalAuditEntry,
    ApprovalList,
    ApprovalOut,
    ApprovalStatusFilter,
    DecisionCreate,
)
from services.gateway.cursors import encode_cursor, page_start
from services.gateway.deps import (
    APPROVER_ROLES,
    DECIDE_ACTION,
    ApprovalIdPath,
    BearerDep,
    DecisionOutboxDep,
    DecisionRecorderDep,
    OwnedApprovalDep,
    OwnedTaskDep,
    PrincipalDep,
    SessionDep,
    SessionFactoryDep,
    TemporalDep,
    ToolRegistryDep,
    approval_not_found,
    bearer_key_hash,
    check_role,
    find_owned_approval,
    find_principal,
    parse_uuid,
    principal_of,
)
from services.gateway.errors import ProblemError, problem_responses
from services.gateway.signals import APPROVAL_DECIDED, decision_signal, send_signal
from workflows.contracts import ApprovalDecisionKind, ApprovalOutcome

logger = logging.getLogger(__name__)

router = APIRouter(tags=["approvals"], responses=problem_responses(401, 422))


@router.get(
    "/v1/approvals", summary="The approval inbox, newest first", responses=problem_responses(400)
)
async def list_approvals(
    principal: PrincipalDep,
    session: SessionDep,
    registry: ToolRegistryDep,
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
    page = await ApprovalRepository(session).list_page(
        principal.tenant_id,
        limit=limit,
        statuses=status_filter.statuses(),
        agent=agent,
        task_id=task_id,
        after=page_start(cursor),
    )
    return ApprovalList(
        items=[_out(approval, registry) for approval in page.approvals],
        next_cursor=encode_cursor(page.next_key) if page.next_key else None,
    )


@router.get(
    "/v1/approvals/{approval_id}",
    summary="An approval, with its context and the tool's schema",
    responses=problem_responses(404),
)
async def get_approval(approval: OwnedApprovalDep, registry: ToolRegistryDep) -> ApprovalOut:
    return _out(approval, registry)


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
    credentials: BearerDep,
    recorder: DecisionRecorderDep,
    sessions: SessionFactoryDep,
    client: TemporalDep,
    registry: ToolRegistryDep,
    outbox: DecisionOutboxDep,
) -> Response:
    """Record the decision (exactly one decision wins), then signal the task's workflow.

    The key is checked by the decision's own statement, and the approval is not read first
    (the conditional update says whether it could be decided), except for an edit, whose
    arguments are checked against the tool's schema: one round trip to Postgres before the
    signal (a session is opened only for an edit or to say why nothing was decided), and the
    answer is serialized while the signal is in flight.
    """
    key_hash = bearer_key_hash(credentials)
    parsed_id = parse_uuid(approval_id)
    if body.decision is ApprovalDecisionKind.edit or parsed_id is None:
        async with sessions() as session:
            principal = await find_principal(session, key_hash)
            check_role(principal, DECIDE_ACTION, APPROVER_ROLES)
            approval = await find_owned_approval(session, principal.tenant_id, approval_id)
        assert body.arguments is not None  # DecisionCreate demands them for edit
        check_edited_arguments(registry, approval.tool, body.arguments)
    assert parsed_id is not None  # find_owned_approval answered 404 for a malformed id
    decision = Decision(kind=body.decision, arguments=body.arguments, comment=body.comment)
    # the key, the decision and its event: one statement, committed before the workflow hears
    attempt = await recorder.decide(
        key_hash, [role.value for role in APPROVER_ROLES], parsed_id, decision
    )
    principal = check_role(principal_of(attempt.decider), DECIDE_ACTION, APPROVER_ROLES)
    if attempt.recorded is None:
        async with sessions() as session:
            await _why_not_decided(session, principal.tenant_id, parsed_id)
    decided, workflow_id = attempt.recorded.approval, attempt.recorded.workflow_id

    signal = asyncio.ensure_future(
        send_signal(client, workflow_id, APPROVAL_DECIDED, decision_signal(decided))
    )
    await asyncio.sleep(0)  # the signal's RPC leaves; the answer is built while it is out
    answer = _out(decided, registry).model_dump_json()
    try:
        await signal
    except Exception as exc:
        # The decision is safe in Postgres; the decision outbox sends it later.
        logger.warning(
            "signalling the decision of approval %s failed: %s", decided.id, type(exc).__name__
        )
        return Response(answer, status.HTTP_202_ACCEPTED, media_type="application/json")
    outbox.told(decided.id)
    return Response(answer, media_type="application/json")


@router.get(
    "/v1/tasks/{task_id}/approvals",
    summary="A task's approvals, oldest first (audit)",
    responses=problem_responses(404),
)
async def list_task_approvals(task: OwnedTaskDep, session: SessionDep) -> ApprovalAudit:
    approvals = await ApprovalRepository(session).list_for_task(task.id)
    return ApprovalAudit(items=[ApprovalAuditEntry.from_row(approval) for approval in approvals])


def check_edited_arguments(
    registry: ToolRegistry, tool_name: str, arguments: dict[str, Any]
) -> None:
    """An edit must fit the tool: no unknown names, every value valid. Else a 422 naming it."""
    try:
        tool = registry.get(tool_name)
    except UnknownToolError:
        raise ProblemError(
            422,
            f"tool {tool_name!r} is unknown to the gateway, so edited arguments cannot be "
            "checked; approve or reject the call instead",
            kind="unknown-tool",
        ) from None
    unknown = tool.unknown_arguments(arguments)
    if unknown:
        known = ", ".join(sorted(tool.parameters_schema.get("properties", {}))) or "none"
        raise ProblemError(
            422,
            f"invalid arguments for tool {tool_name!r}: unknown argument(s) "
            f"{', '.join(unknown)}; it takes: {known}",
            kind="invalid-arguments",
            extra={"unknown_arguments": unknown},
        )
    try:
        tool.validate(arguments)
    except ToolArgumentError as exc:
        raise ProblemError(422, str(exc), kind="invalid-arguments") from None


async def _why_not_decided(
    session: AsyncSession, tenant_id: uuid.UUID, approval_id: uuid.UUID
) -> NoReturn:
    """The conditional update matched nothing: raise the problem that says why."""
    current = await ApprovalRepository(session).get(tenant_id, approval_id)
    if current is None:
        raise approval_not_found(approval_id)
    outcome = ApprovalOutcome(current.status)
    if not outcome.is_open:
        raise ProblemError(
            409,
            f"approval {approval_id} is already {outcome.value}; it cannot be decided again",
            kind="approval-closed",
            extra={"approval_status": outcome.value},
        )
    task = await TaskRepository(session).get(tenant_id, current.task_id)
    task_status = task.status if task is not None else "gone"
    raise ProblemError(
        409,
        f"task {current.task_id} is {task_status}; its approvals can no longer be decided",
        kind="task-final",
        extra={"task_status": task_status},
    )


def _out(approval: Approval, registry: ToolRegistry) -> ApprovalOut:
    schema = registry.get(approval.tool).parameters_schema if approval.tool in registry else None
    return ApprovalOut.from_row(approval, schema)
