"""/v1/tasks: submit, read, list, cancel, a task's events and transcript, and follow-ups.

Reading needs any valid key; submitting, cancelling and adding messages need a task-writing
role (see deps.TaskWriterDep)."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Body, Header, Query, Response, status

from activities.db.models import Task
from services.gateway.deps import (
    OwnedTaskDep,
    SessionDep,
    SettingsDep,
    TaskFeedDep,
    TaskWriterDep,
    TemporalDep,
)
from services.gateway.errors import problem_responses
from services.gateway.follow_ups import add_follow_up
from services.gateway.schemas.task_messages import MessageAccepted, MessageCreate
from services.gateway.schemas.tasks import (
    TaskCancel,
    TaskCreate,
    TaskDetail,
    TaskOut,
)
from services.gateway.submission import (
    check_size,
)
from services.gateway.task_cancel import cancel
from services.gateway.task_feed import wait_until_final
from services.gateway.task_intake import IntakeDep, accept_task
from services.settings import Settings
from workflows.contracts.tasks import TaskStatus, workflow_id_for_task

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=problem_responses(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Submit a task",
    response_description="The task, stored and its workflow started.",
    responses={
        200: {"model": TaskOut, "description": "A retry with the same Idempotency-Key."},
        **problem_responses(400, 402, 403, 409, 413, 415, 429, 503),
    },
)
async def create_task(
    principal: TaskWriterDep,
    body: TaskCreate,
    response: Response,
    intake: IntakeDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Makes retries safe: the same key with the same body returns the "
            "task created first (200) and starts nothing new.",
        ),
    ] = None,
) -> TaskOut:
    """Submit a task to an agent; needs role `submitter`, `operator` or `admin`.

    Answers 201 once the task is stored and its workflow started. With an `Idempotency-Key`
    a retry of the same request answers 200 with the task created first (409 if the key was
    used for another request). Over the tenant's cap on running tasks the task stays `queued`
    until a slot frees, or, where the service refuses over-cap submits, answers 429 with
    `Retry-After`."""
    task, created = await accept_task(
        intake, principal.tenant_id, body, idempotency_key=idempotency_key
    )
    response.headers["Location"] = f"/v1/tasks/{task.id}"
    if not created:
        response.status_code = status.HTTP_200_OK
    return TaskOut.from_row(task)


@router.get("/{task_id}", summary="Get a task", responses=problem_responses(404))
async def get_task(
    task: OwnedTaskDep,
    session: SessionDep,
    feed: TaskFeedDep,
    settings: SettingsDep,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Seconds to wait for the task to be final: the answer comes as soon as "
            "it is (or when the wait ends, with the task as it is), instead of polling.",
        ),
    ] = 0,
) -> TaskDetail:
    """A task: its status, its result or error, its usage and its timestamps."""
    if wait and not TaskStatus(task.status).is_final:
        task = await wait_until_final(session, feed, task, wait)
    return TaskDetail(
        **TaskOut.from_row(task).model_dump(), temporal_ui_url=_workflow_page(settings, task)
    )


def _workflow_page(settings: Settings, task: Task) -> str | None:
    """The task's workflow in the Temporal UI, or None when the UI's address is unknown."""
    base = settings.temporal_ui_url
    if base is None and settings.embedded_temporal:
        base = f"http://127.0.0.1:{settings.temporal_ui_port}"
    if base is None:
        return None
    namespace = quote(settings.temporal_namespace, safe="")
    workflow_id = quote(workflow_id_for_task(str(task.id)), safe="")
    return f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}"


@router.post(
    "/{task_id}/cancel",
    summary="Cancel a task",
    response_description="The task, now final.",
    responses={
        202: {"model": TaskOut, "description": "Cancellation requested; still finishing."},
        **problem_responses(403, 404, 409, 503),
    },
)
async def cancel_task(
    principal: TaskWriterDep,
    task: OwnedTaskDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    response: Response,
    body: Annotated[TaskCancel | None, Body()] = None,
) -> TaskOut:
    """Stop a task that has not finished; needs a task-writing role.

    Waits briefly for the task to stop: 200 once it is final (`cancelled`, or the status it
    reached meanwhile), 202 if it is still finishing (poll `GET /v1/tasks/{id}`); 409 if it
    had already finished."""
    final = await cancel(session, client, settings, task, body.reason if body else None)
    response.status_code = (
        status.HTTP_200_OK if TaskStatus(final.status).is_final else status.HTTP_202_ACCEPTED
    )
    return TaskOut.from_row(final)


@router.post(
    "/{task_id}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Add a follow-up message",
    response_description="Stored and handed to the task; the agent reads it at its next step.",
    responses=problem_responses(403, 404, 409, 413, 415, 503),
)
async def add_message(
    principal: TaskWriterDep,
    task: OwnedTaskDep,
    body: MessageCreate,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
) -> MessageAccepted:
    """Write to a task that is queued, running or waiting (for an approval or for input);
    needs a task-writing role. The agent reads the message at its next step; a conversation
    waiting for input goes on with it. 409 once the task has finished."""
    check_size("content", len(body.content.encode()), settings.max_input_bytes)
    message_id = await add_follow_up(session, client, task, body.content)
    return MessageAccepted(message_id=message_id, task_id=task.id)
