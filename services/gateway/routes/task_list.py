"""GET /v1/tasks: the tenant's tasks, newest first, filtered and a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from activities.db.tasks import TaskRepository
from services.gateway.cursors import encode_cursor, page_start
from services.gateway.deps import PrincipalDep, SessionDep
from services.gateway.errors import ProblemError, problem_responses
from services.gateway.schemas.tasks import TaskList, TaskOut
from workflows.contracts.tasks import TaskStatus

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=problem_responses(401, 422))


@router.get("", summary="List tasks, newest first", responses=problem_responses(400))
async def list_tasks(
    principal: PrincipalDep,
    session: SessionDep,
    status_filter: Annotated[
        TaskStatus | None, Query(alias="status", description="Only tasks in this status.")
    ] = None,
    agent: Annotated[str | None, Query(description="Only tasks of this agent.")] = None,
    created_after: Annotated[
        datetime | None, Query(description="Only tasks submitted at or after this time.")
    ] = None,
    created_before: Annotated[
        datetime | None, Query(description="Only tasks submitted before this time.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> TaskList:
    """The tenant's tasks, newest first, a page at a time: pass `next_cursor` back as
    `cursor` (with the same filters) for the next page. Times without a zone are UTC."""
    after = _aware(created_after)
    before = _aware(created_before)
    if after is not None and before is not None and after >= before:
        raise ProblemError(
            422, "`created_after` must be before `created_before`", kind="invalid-range"
        )
    page = await TaskRepository(session).list_page(
        principal.tenant_id,
        limit=limit,
        status=status_filter.value if status_filter else None,
        agent=agent,
        created_after=after,
        created_before=before,
        after=page_start(cursor),
    )
    return TaskList(
        items=[TaskOut.from_row(task) for task in page.tasks],
        next_cursor=encode_cursor(page.next_key) if page.next_key else None,
    )


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
