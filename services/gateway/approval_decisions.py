"""Deciding an approval as the caller: the one dependency of the decision route.

The decision is on the path from an approver's click to the decided tool call, a measured
target (docs/BENCHMARKS.md). So the caller's key is not looked up first as on other routes: the
decision's own statement (`DecisionRepository.record_decision`) checks the key, the role, the
approval and its task and records the decision, in one round trip to Postgres. Only an edit
(whose arguments are checked against the tool's schema) or a malformed id reads first, and
only a decision that could not be made reads afterwards, to say why.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.approvals import ApprovalRepository
from activities.db.decisions import Decision, DecisionRepository, RecordedDecision
from activities.db.tasks import TaskRepository
from activities.tools.catalog import ToolCatalog
from services.gateway.deps import (
    APPROVER_ROLES,
    DECIDE_ACTION,
    BearerDep,
    DecisionRepositoryDep,
    SessionFactoryDep,
    ToolCatalogDep,
    approval_not_found,
    bearer_key_hash,
    check_role,
    find_owned_approval,
    find_principal,
    parse_uuid,
    principal_of,
)
from services.gateway.errors import ProblemError
from services.gateway.schemas.approvals import DecisionCreate
from workflows.contracts.approvals import ApprovalDecisionKind, ApprovalOutcome

_DECIDER_ROLES = [role.value for role in APPROVER_ROLES]


@dataclass(frozen=True)
class ApprovalDecider:
    """The caller's credentials and what deciding needs."""

    credentials: HTTPAuthorizationCredentials | None
    decisions: DecisionRepository
    sessions: async_sessionmaker[AsyncSession]
    tools: ToolCatalog

    async def decide(self, approval_id: str, body: DecisionCreate) -> RecordedDecision:
        """Record the decision, committed; exactly one decision of an approval wins. Raises
        the problem (401, 403, 404, 409, 422) that says why nothing was decided."""
        key_hash = bearer_key_hash(self.credentials)
        parsed_id = parse_uuid(approval_id)
        if body.decision is ApprovalDecisionKind.edit or parsed_id is None:
            async with self.sessions() as session:
                principal = await find_principal(session, key_hash)
                check_role(principal, DECIDE_ACTION, APPROVER_ROLES)
                approval = await find_owned_approval(session, principal.tenant_id, approval_id)
            assert body.arguments is not None  # DecisionCreate demands them for edit
            check_edited_arguments(self.tools, approval.tool, body.arguments)
        assert parsed_id is not None  # find_owned_approval answered 404 for a malformed id
        decision = Decision(kind=body.decision, arguments=body.arguments, comment=body.comment)
        attempt = await self.decisions.record_decision(
            key_hash, _DECIDER_ROLES, parsed_id, decision
        )
        # the statement decides only for a deciding role; this says so to any other caller
        principal = check_role(principal_of(attempt.decider), DECIDE_ACTION, APPROVER_ROLES)
        if attempt.recorded is None:
            async with self.sessions() as session:
                await _why_not_decided(session, principal.tenant_id, parsed_id)
        return attempt.recorded


async def get_approval_decider(
    credentials: BearerDep,
    decisions: DecisionRepositoryDep,
    sessions: SessionFactoryDep,
    tools: ToolCatalogDep,
) -> ApprovalDecider:
    return ApprovalDecider(credentials, decisions, sessions, tools)


ApprovalDeciderDep = Annotated[ApprovalDecider, Depends(get_approval_decider)]


def check_edited_arguments(tools: ToolCatalog, tool_name: str, arguments: dict[str, Any]) -> None:
    """An edit must fit the tool's JSON schema: no unknown names, every value of its JSON
    type as sent ("5" is not a number) and within its limits. Else a 422 naming what is wrong."""
    tool = tools.get(tool_name)
    if tool is None:
        raise ProblemError(
            422,
            f"tool {tool_name!r} is unknown to the gateway, so edited arguments cannot be "
            "checked; approve or reject the call instead",
            kind="unknown-tool",
        )
    unknown = tool.unknown_arguments(arguments)
    if unknown:
        known = ", ".join(sorted(tool.argument_names())) or "none"
        raise ProblemError(
            422,
            f"invalid arguments for tool {tool_name!r}: unknown argument(s) "
            f"{', '.join(unknown)}; it takes: {known}",
            kind="invalid-arguments",
            extra={"unknown_arguments": unknown},
        )
    problems = tool.problems(arguments)
    if problems:
        raise ProblemError(
            422,
            f"invalid arguments for tool {tool_name!r}: " + "; ".join(problems),
            kind="invalid-arguments",
        )


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
