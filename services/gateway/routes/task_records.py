"""/v1/tasks/{id} read-only records: a task's events, its transcript, its sub-agent tasks and
the files in its workspace. Any valid key of the task's tenant may read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response, StreamingResponse

from activities.db.events import EventRepository
from activities.db.messages import MessageRepository
from activities.db.tasks import TaskRepository
from activities.db.workspace_files import WorkspaceFileRepository
from services.gateway.deps import OwnedTaskDep, SessionDep, SessionFactoryDep, TaskFeedDep
from services.gateway.errors import ProblemError, problem_responses
from services.gateway.schemas.task_events import EventList, EventOut
from services.gateway.schemas.task_files import WorkspaceFileList, WorkspaceFileOut
from services.gateway.schemas.task_messages import MessageList, MessageOut
from services.gateway.schemas.tasks import TaskChildren, TaskOut
from services.gateway.schemas.trace import TaskTrace
from services.gateway.task_stream import task_events
from services.gateway.task_trace import build_trace

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=problem_responses(401, 422))


@router.get(
    "/{task_id}/events", summary="A task's events, in order", responses=problem_responses(404)
)
async def list_events(
    task: OwnedTaskDep,
    session: SessionDep,
    after: Annotated[
        int | None, Query(ge=0, description="Only events with a larger id (resume point).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventList:
    """What happened, in order: status changes, model calls (model, tokens, duration), tool
    calls (arguments, result, duration), approvals, messages, and waits for a slot under the
    tenant's cap. Pass the last id seen as `after` to read only what came since."""
    events = await EventRepository(session).list(task.id, after=after, limit=limit)
    return EventList(items=[EventOut.from_row(event) for event in events])


@router.get(
    "/{task_id}/stream",
    summary="A task's events, live (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "One SSE event per task event (`id`, `event` = its type, `data` = the "
            "event as in /events); between them `delta` events without `id` (`data`: "
            '`{"task_id", "iteration", "attempt", "seq", "text"}`), the model\'s text as it '
            "writes it; then `end` once the task is final.",
        },
        **problem_responses(404),
    },
)
async def stream_events(
    task: OwnedTaskDep,
    sessions: SessionFactoryDep,
    feed: TaskFeedDep,
    last_event_id: Annotated[
        int | None,
        Header(ge=0, description="The last event id seen: the stream resumes after it."),
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, description="Same as Last-Event-ID, for clients without it.")
    ] = None,
) -> StreamingResponse:
    """Every event of the task as it happens: status changes, model calls, tool calls and
    results, approval requests and decisions, summaries, and the final status. Reconnecting
    with `Last-Event-ID` (browsers' EventSource does) resumes with no gap and no repeat, on any
    gateway replica.

    While the model writes a turn, `event: delta` events carry its text as it comes: `data` is
    `{"task_id", "iteration", "attempt", "seq", "text"}`; the turn's text is its deltas' `text`
    joined in `seq` order. Deltas have no `id` and are not stored: a reconnect may miss some
    (and a client reading far slower than the model writes loses the oldest: a gap in `seq`),
    but never the turn's reply, which follows as its `llm_call` event (`final_text`) and in
    /messages. A turn's deltas all come before its `llm_call`. A retried attempt of a turn
    starts again at `seq` 0 with a higher `attempt`: its text replaces the earlier one's.
    Tool-call arguments and summaries are not streamed. Turns are streamed while the task has
    a live stream open (and the task's first turn always): a turn that began before this
    stream opened sends no deltas, only its `llm_call`."""
    start = last_event_id if last_event_id is not None else after
    return StreamingResponse(
        task_events(sessions, feed, task.id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{task_id}/children", summary="A task's sub-agent tasks", responses=problem_responses(404)
)
async def list_children(task: OwnedTaskDep, session: SessionDep) -> TaskChildren:
    """The tasks this task delegated to (its `delegate` calls), oldest first; each is a task of
    its own (with `parent_task_id` set) whose usage also counts in this task's."""
    children = await TaskRepository(session).children(task.tenant_id, task.id)
    return TaskChildren(items=[TaskOut.from_row(child) for child in children])


@router.get("/{task_id}/messages", summary="A task's transcript", responses=problem_responses(404))
async def list_messages(task: OwnedTaskDep, session: SessionDep) -> MessageList:
    """The task's transcript: the system prompt, the input and follow-ups, the model's replies
    with the tool calls it asked for, and each tool's result."""
    messages = await MessageRepository(session).transcript(task.id)
    return MessageList(items=[MessageOut.from_row(message) for message in messages])


@router.get(
    "/{task_id}/trace", summary="A task's whole trajectory", responses=problem_responses(404)
)
async def get_trace(task: OwnedTaskDep, session: SessionDep) -> TaskTrace:
    """One document: every model call (model, tokens, duration), tool call (arguments,
    result, duration), summary and approval (who decided, how long it waited) in step order,
    the traces of its sub-agent tasks, and its duration with the time spent waiting for
    humans shown apart."""
    return await build_trace(session, task)


@router.get(
    "/{task_id}/files", summary="The files in a task's workspace", responses=problem_responses(404)
)
async def list_files(task: OwnedTaskDep, session: SessionDep) -> WorkspaceFileList:
    """What the task's file tools wrote (and did not delete), as every worker sees it."""
    rows = await WorkspaceFileRepository(session).listing(task.id)
    return WorkspaceFileList(
        items=[WorkspaceFileOut(path=p, size=size, updated_at=at) for p, size, at in rows],
        total_bytes=sum(size for _, size, _ in rows),
    )


@router.get(
    "/{task_id}/files/{path:path}",
    summary="One file of a task's workspace",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "OK"},
        **problem_responses(404),
    },
)
async def read_file(
    task: OwnedTaskDep,
    session: SessionDep,
    path: Annotated[str, Path(description="The file's path in the workspace, e.g. drafts/a.md")],
) -> Response:
    """The file's content as the task's file tools left it (UTF-8 text)."""
    content = await WorkspaceFileRepository(session).content(task.id, path)
    if content is None:
        raise ProblemError(
            404, f"the task's workspace has no file {path!r}", kind="workspace-file-not-found"
        )
    return Response(content, media_type="text/plain; charset=utf-8")
