"""/v1/responses: the OpenAI Responses API in front of Agentry's tasks, so OpenAI clients drive
agents as if they were models. A response is a task (its id works on /v1/tasks); a follow-up
is a conversation's next turn; a held tool call is an `mcp_approval_request`, answered with an
`mcp_approval_response` through the same path as POST /v1/approvals/{id}/decision. Errors are
OpenAI-shaped (errors.py). Objects: response_objects.py; streaming: response_stream.py."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.tasks import TaskRepository
from services.gateway.approval_decisions import ApprovalDecider, ApprovalDeciderDep
from services.gateway.decision_outbox import DecisionOutbox
from services.gateway.deps import (
    TASK_WRITER_ROLES,
    DecisionOutboxDep,
    Principal,
    PrincipalDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
    TaskFeedDep,
    TaskWriterDep,
    TemporalDep,
    check_role,
)
from services.gateway.errors import ProblemError, invalid_field
from services.gateway.follow_ups import add_follow_up
from services.gateway.openai_errors import openai_error_responses
from services.gateway.response_objects import (
    MODEL_PREFIX,
    ResponseRef,
    parse_response_id,
)
from services.gateway.response_stream import (
    ResponseState,
    read_state,
    response_events,
    wait_settled,
)
from services.gateway.schemas.approvals import DecisionCreate
from services.gateway.schemas.responses import (
    ApprovalResponse,
    InputMessage,
    ResponseCreate,
    conversation_input,
)
from services.gateway.schemas.tasks import BudgetsIn, TaskCreate
from services.gateway.submission import check_size
from services.gateway.task_cancel import cancel
from services.gateway.task_feed import TaskFeed
from services.gateway.task_intake import Intake, IntakeDep, accept_task
from workflows.contracts.approvals import ApprovalDecisionKind

router = APIRouter(
    prefix="/v1/responses",
    tags=["openai"],
    responses=openai_error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
)

ResponseIdPath = Annotated[
    str, Path(max_length=100, description="The response's id (a task's id for the first turn).")
]


@router.post("", summary="Create a response (run an agent)")
async def create_response(
    body: ResponseCreate,
    principal: PrincipalDep,
    intake: IntakeDep,
    feed: TaskFeedDep,
    decider: ApprovalDeciderDep,
    outbox: DecisionOutboxDep,
) -> Any:
    """`model` names the agent. Without `previous_response_id` this submits a task (role
    `submitter`, `operator` or `admin`); with it, a user message is the conversation's next turn
    and `mcp_approval_response` items decide the previous response's approval requests (role
    `approver` or `admin`). `background: true` answers at once; `stream: true` streams; else
    the call waits until the response is over or waits for an approval, at most
    `AGENTRY_RESPONSES_WAIT_SECONDS`, and then answers with the response as it is."""
    messages = [item for item in _items(body) if isinstance(item, InputMessage)]
    approvals = [item for item in _items(body) if isinstance(item, ApprovalResponse)]
    if body.previous_response_id is None:
        if approvals:
            raise invalid_field(
                "previous_response_id", "an mcp_approval_response needs the response it answers"
            )
        ref = await _start(body, principal, intake)
    else:
        ref = await _continue(body, messages, approvals, principal, intake, decider, outbox)
    return await _answer(intake, feed, principal, ref, body.background, body.stream, None)


@router.get("/{response_id}", summary="Get a response")
async def get_response(
    response_id: ResponseIdPath,
    principal: PrincipalDep,
    sessions: SessionFactoryDep,
    feed: TaskFeedDep,
    stream: Annotated[bool, Query(description="Stream its events instead.")] = False,
    starting_after: Annotated[
        int | None, Query(ge=-1, description="Resume the stream after this sequence number.")
    ] = None,
) -> Any:
    """The response: its status, output items in order, usage and error. With `stream=true`
    its streaming events, from `starting_after` on."""
    ref = _ref(response_id)
    if stream:
        await _state(sessions, ref, principal.tenant_id)  # 404 before the stream starts
        return _stream(sessions, feed, ref, principal, starting_after)
    return (await _state(sessions, ref, principal.tenant_id)).as_object()


@router.post("/{response_id}/cancel", summary="Cancel a response (its task)")
async def cancel_response(
    response_id: ResponseIdPath,
    principal: TaskWriterDep,
    session: SessionDep,
    sessions: SessionFactoryDep,
    client: TemporalDep,
    settings: SettingsDep,
) -> Any:
    """Cancels the task behind the response; 409 if it already finished."""
    ref = _ref(response_id)
    task = await TaskRepository(session).get(principal.tenant_id, ref.task_id)
    if task is None:
        raise _not_found(response_id)
    await cancel(session, client, settings, task, "cancelled through /v1/responses")
    return (await _state(sessions, ref, principal.tenant_id)).as_object()


async def _start(body: ResponseCreate, principal: Principal, intake: Intake) -> ResponseRef:
    check_role(principal, "create responses", TASK_WRITER_ROLES)
    if isinstance(body.input, str):
        text, instructions = body.input, None
    else:
        try:
            text, instructions = conversation_input(_items(body))
        except ValueError as exc:
            raise invalid_field("input", str(exc)) from None
    joined = "\n\n".join(part for part in (instructions, body.instructions) if part) or None
    budgets = None
    if body.max_output_tokens is not None or body.max_tool_calls is not None:
        budgets = BudgetsIn(max_tokens=body.max_output_tokens, max_tool_calls=body.max_tool_calls)
    try:
        create = TaskCreate(
            agent=_agent_of(body.model), input=text, metadata=body.metadata, budgets=budgets
        )
    except ValidationError as exc:
        raise invalid_field("input", exc.errors()[0]["msg"]) from None
    task, _ = await accept_task(intake, principal.tenant_id, create, instructions=joined)
    return ResponseRef(task.id, None)


async def _continue(
    body: ResponseCreate,
    messages: list[InputMessage],
    approvals: list[ApprovalResponse],
    principal: Principal,
    intake: Intake,
    decider: ApprovalDecider,
    outbox: DecisionOutbox,
) -> ResponseRef:
    previous = _ref(body.previous_response_id or "")
    state = await _state(intake.sessions, previous, principal.tenant_id)
    if _agent_of(body.model) != state.task.agent:
        raise invalid_field("model", f"the previous response is agent {state.task.agent!r}'s")
    asked = {
        item["id"]
        for turn in state.turns
        for item in turn.items
        if item["type"] == "mcp_approval_request"
    }
    for answer in approvals:  # only what this response's task asked for
        if answer.approval_request_id not in asked:
            raise invalid_field(
                "input",
                f"{answer.approval_request_id!r} is no approval request of the previous response",
            )
    for answer in approvals:
        kind = ApprovalDecisionKind.approve if answer.approve else ApprovalDecisionKind.reject
        decision = DecisionCreate(decision=kind, comment=answer.reason)
        decided = await decider.decide(answer.approval_request_id, decision)
        await outbox.send_now(intake.client, decided, render=lambda: "")
    said = "\n\n".join(m.text() for m in messages if m.role == "user" and m.text().strip())
    if not said:
        return previous
    check_role(principal, "continue conversations", TASK_WRITER_ROLES)
    check_size("input", len(said.encode()), intake.settings.max_input_bytes)
    message_id = await add_follow_up(intake.session, intake.client, state.task, said)
    return ResponseRef(state.task.id, message_id)


async def _answer(
    intake: Intake,
    feed: TaskFeed,
    principal: Principal,
    ref: ResponseRef,
    background: bool,
    stream: bool,
    starting_after: int | None,
) -> JSONResponse | StreamingResponse:
    if stream:
        return _stream(intake.sessions, feed, ref, principal, starting_after)
    wait = 0.0 if background else intake.settings.responses_wait_seconds
    state = await wait_settled(intake.sessions, feed, ref, principal.tenant_id, wait)
    if state is None:
        raise _not_found(str(ref.task_id))
    return JSONResponse(state.as_object())


def _stream(
    sessions: async_sessionmaker[AsyncSession],
    feed: TaskFeed,
    ref: ResponseRef,
    principal: Principal,
    starting_after: int | None,
) -> StreamingResponse:
    return StreamingResponse(
        response_events(sessions, feed, ref, principal.tenant_id, starting_after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _state(
    sessions: async_sessionmaker[AsyncSession], ref: ResponseRef, tenant_id: uuid.UUID
) -> ResponseState:
    state = await read_state(sessions, ref, tenant_id)
    if state is None:
        raise _not_found(str(ref.task_id))
    return state


def _items(body: ResponseCreate) -> list[Any]:
    if isinstance(body.input, str):
        return [InputMessage(role="user", content=body.input)]
    return list(body.input)


def _agent_of(model: str) -> str:
    return model.removeprefix(MODEL_PREFIX)


def _ref(response_id: str) -> ResponseRef:
    ref = parse_response_id(response_id)
    if ref is None:
        raise _not_found(response_id)
    return ref


def _not_found(response_id: str) -> ProblemError:
    return ProblemError(404, f"no response {response_id!r} in your tenant", kind="not-found")
