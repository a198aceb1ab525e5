"""A task's workspace files in Postgres: what the file tools read and change.

Files live with their task (deleted with it), so a task that moves to another worker, or a
worker that restarts, sees the same files. Changes of one tool call are applied in the
transaction that records the call (activities/tools/task_workspace.py), under a per-task
advisory lock, so parallel calls of one task cannot both pass the quota.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import WorkspaceFile

_LOCK_CLASS = 0x41475753  # "AGWS": first key of the two-int advisory lock


@dataclass(frozen=True)
class Usage:
    files: int
    bytes: int


class WorkspaceFileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, task_id: uuid.UUID) -> None:
        """Serialise changes to this task's workspace until the transaction ends."""
        await self._session.execute(
            select(func.pg_advisory_xact_lock(_LOCK_CLASS, func.hashtext(str(task_id))))
        )

    async def content(self, task_id: uuid.UUID, path: str) -> bytes | None:
        return await self._session.scalar(
            select(WorkspaceFile.content).where(
                WorkspaceFile.task_id == task_id, WorkspaceFile.path == path
            )
        )

    async def sizes(self, task_id: uuid.UUID) -> dict[str, int]:
        """Every file's size, by path."""
        rows = await self._session.execute(
            select(WorkspaceFile.path, WorkspaceFile.size).where(WorkspaceFile.task_id == task_id)
        )
        return {path: size for path, size in rows.all()}

    async def listing(self, task_id: uuid.UUID) -> list[tuple[str, int, datetime]]:
        """(path, size, updated_at) of every file, by path."""
        rows = await self._session.execute(
            select(WorkspaceFile.path, WorkspaceFile.size, WorkspaceFile.updated_at)
            .where(WorkspaceFile.task_id == task_id)
            .order_by(WorkspaceFile.path)
        )
        return [(path, size, updated) for path, size, updated in rows.all()]

    async def usage(self, task_id: uuid.UUID) -> Usage:
        row = (
            await self._session.execute(
                select(func.count(), func.coalesce(func.sum(WorkspaceFile.size), 0)).where(
                    WorkspaceFile.task_id == task_id
                )
            )
        ).one()
        return Usage(files=int(row[0]), bytes=int(row[1]))

    async def put(self, task_id: uuid.UUID, path: str, content: bytes) -> None:
        statement = insert(WorkspaceFile).values(
            task_id=task_id, path=path, content=content, size=len(content)
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                constraint="pk_workspace_files",
                set_={"content": content, "size": len(content), "updated_at": func.now()},
            )
        )

    async def put_all(self, task_id: uuid.UUID, files: dict[str, str]) -> None:
        """The text files a task starts with (a submit's `files`)."""
        for path, text in files.items():
            await self.put(task_id, path, text.encode())

    async def remove(self, task_id: uuid.UUID, path: str) -> None:
        await self._session.execute(
            delete(WorkspaceFile).where(
                WorkspaceFile.task_id == task_id, WorkspaceFile.path == path
            )
        )
