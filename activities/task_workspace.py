"""A task's workspace as one tool call sees it: the files in Postgres plus the call's own
changes, which reach Postgres only together with the call's recorded result.

So a call whose recording fails (and is retried) has changed nothing, and a retry finds the
workspace as the first attempt did: no write or delete ever happens twice.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.outages import outlasting_outages
from activities.db.workspace_files import WorkspaceFileRepository
from activities.tools.errors import ToolError


@dataclass(frozen=True)
class WorkspaceQuota:
    """Per task: all its files together."""

    max_bytes: int = 50 * 1024 * 1024
    max_files: int = 1000


class TaskWorkspace:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        task_id: uuid.UUID,
        quota: WorkspaceQuota,
    ) -> None:
        self._sessions = sessions
        self._task_id = task_id
        self.quota = quota
        self._pending: dict[str, bytes | None] = {}  # path → new content; None: deleted
        self._stored: dict[str, int] | None = None  # sizes in Postgres, read on first use

    async def sizes(self) -> dict[str, int]:
        """Every file's size by path, this call's changes included."""
        if self._stored is None:

            async def sizes() -> dict[str, int]:
                async with self._sessions() as session:
                    return await WorkspaceFileRepository(session).sizes(self._task_id)

            self._stored = await outlasting_outages(sizes, "workspace: reading sizes")
        view = dict(self._stored)
        for path, content in self._pending.items():
            if content is None:
                view.pop(path, None)
            else:
                view[path] = len(content)
        return view

    async def read(self, path: str) -> bytes | None:
        if path in self._pending:
            return self._pending[path]

        async def content() -> bytes | None:
            async with self._sessions() as session:
                return await WorkspaceFileRepository(session).content(self._task_id, path)

        return await outlasting_outages(content, "workspace: reading a file")

    async def write(self, path: str, content: bytes) -> None:
        view = await self.sizes()
        view[path] = len(content)
        problem = self._over_quota(view)
        if problem is not None:
            raise ToolError(problem)
        self._pending[path] = content

    def delete(self, path: str) -> None:
        self._pending[path] = None

    def changes(self) -> dict[str, str | None]:
        """This call's changes, base64 (None: deleted): kept while they cannot be recorded."""
        return {
            path: None if content is None else base64.b64encode(content).decode()
            for path, content in self._pending.items()
        }

    def restore(self, changes: dict[str, str | None]) -> None:
        """Take up the changes an earlier attempt of the call made (`changes()`)."""
        for path, content in changes.items():
            self._pending[path] = None if content is None else base64.b64decode(content)

    async def apply(self, session: AsyncSession) -> str | None:
        """Write this call's changes in the caller's transaction; the quota is checked again
        under the task's lock (a parallel call may have written meanwhile). Returns why the
        changes were refused, or None."""
        if not self._pending:
            return None
        files = WorkspaceFileRepository(session)
        await files.lock(self._task_id)
        view = await files.sizes(self._task_id)
        for path, content in self._pending.items():
            if content is None:
                view.pop(path, None)
            else:
                view[path] = len(content)
        problem = self._over_quota(view)
        if problem is not None:
            return problem + "; nothing was changed"
        for path, content in self._pending.items():
            if content is None:
                await files.remove(self._task_id, path)
            else:
                await files.put(self._task_id, path, content)
        return None

    def _over_quota(self, view: dict[str, int]) -> str | None:
        total, count = sum(view.values()), len(view)
        if total > self.quota.max_bytes:
            return (
                f"the workspace would hold {total} bytes; this task's workspace is limited to "
                f"{self.quota.max_bytes} bytes (delete files to make room)"
            )
        if count > self.quota.max_files:
            return (
                f"the workspace would hold {count} files; this task's workspace is limited to "
                f"{self.quota.max_files} files (delete files to make room)"
            )
        return None
