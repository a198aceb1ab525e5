"""The retention job deletes finished tasks older than the retention period with everything
that belongs to them, in batches, skipping rows a writer holds, and leaves the rest alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.events import EventRepository, NewEvent
from activities.db.messages import MessageRepository
from activities.db.models import Message, Task, TaskEvent, WorkspaceFile
from activities.db.tasks import TaskRepository
from activities.db.workspace_files import WorkspaceFileRepository
from services.gateway.retention import RetentionJob
from tests.integration.helpers import new_task_row

Sessions = async_sessionmaker[AsyncSession]
LONG_AGO = datetime.now(UTC) - timedelta(days=40)


async def task_with_records(
    sessions: Sessions,
    status: str,
    finished_at: datetime | None,
    parent: uuid.UUID | None = None,
) -> uuid.UUID:
    task_id = await new_task_row(sessions, "retention")
    async with sessions.begin() as session:
        await session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(status=status, finished_at=finished_at, parent_task_id=parent)
        )
        await EventRepository(session).add(task_id, "s", NewEvent("status", {"status": status}))
        await MessageRepository(session).add_user_message(task_id, "m", "hi")
        await WorkspaceFileRepository(session).put(task_id, "notes.md", b"kept")
    return task_id


async def remaining(sessions: Sessions, task_ids: list[uuid.UUID]) -> dict[str, int]:
    async with sessions() as session:
        counts = {}
        for name, model in (("tasks", Task), ("events", TaskEvent), ("messages", Message),
                            ("files", WorkspaceFile)):  # fmt: skip
            column = model.id if model is Task else model.task_id  # type: ignore[attr-defined]
            counts[name] = int(
                await session.scalar(select(func.count()).where(column.in_(task_ids))) or 0
            )
    return counts


def job(sessions: Sessions, batch_size: int) -> RetentionJob:
    return RetentionJob(
        sessions, keep_for=timedelta(days=30), interval_seconds=3600, batch_size=batch_size
    )


async def test_old_finished_tasks_go_with_their_records_in_batches(db_sessions: Sessions) -> None:
    old = [await task_with_records(db_sessions, s, LONG_AGO) for s in ("succeeded", "failed",
                                                                         "cancelled")]  # fmt: skip
    child = await task_with_records(db_sessions, "succeeded", LONG_AGO, parent=old[0])
    recent = await task_with_records(db_sessions, "succeeded", datetime.now(UTC))
    old_but_running = await task_with_records(db_sessions, "running", None)
    # a sub-agent task finished long ago whose parent still runs stays with its parent
    live_parent = await task_with_records(db_sessions, "waiting_input", None)
    kept_child = await task_with_records(db_sessions, "succeeded", LONG_AGO, parent=live_parent)

    deleted = await job(db_sessions, batch_size=2).run_once()

    assert deleted >= 3  # other tests' tasks are never this old
    assert await remaining(db_sessions, [*old, child]) == {
        "tasks": 0, "events": 0, "messages": 0, "files": 0,
    }  # fmt: skip
    kept = [recent, old_but_running, live_parent, kept_child]
    assert await remaining(db_sessions, kept) == {
        "tasks": 4, "events": 4, "messages": 4, "files": 4,
    }  # fmt: skip


async def test_a_task_a_writer_holds_is_skipped_not_waited_for(db_sessions: Sessions) -> None:
    held = await task_with_records(db_sessions, "succeeded", LONG_AGO)
    async with db_sessions.begin() as writer:
        assert await TaskRepository(writer).lock(held) is not None
        await job(db_sessions, batch_size=50).run_once()  # returns although the row is held
        assert (await remaining(db_sessions, [held]))["tasks"] == 1
    await job(db_sessions, batch_size=50).run_once()
    assert (await remaining(db_sessions, [held]))["tasks"] == 0
