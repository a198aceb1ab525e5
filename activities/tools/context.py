"""The task a tool call runs for, handed to tools through a context variable.

The tool activity sets it around each call, so a tool's signature stays what the model sees.
Paths and ids never become tool arguments the model could choose. A context variable follows
the call into `asyncio.to_thread`, which copies the caller's context, and into tasks the call
starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Protocol

from activities.tools.errors import ToolError


class Workspace(Protocol):
    """A task's files as the file tools see them (activities/task_workspace.py has the one in
    Postgres); paths are normalised and relative."""

    async def sizes(self) -> dict[str, int]: ...

    async def read(self, path: str) -> bytes | None: ...

    async def write(self, path: str, content: bytes) -> None: ...

    def delete(self, path: str) -> None: ...


@dataclass(frozen=True)
class ToolContext:
    task_id: str
    tenant_id: str | None
    # this task's files, for the file tools; None in a tool's child process (no database there)
    workspace: Workspace | None = None


_current: ContextVar[ToolContext | None] = ContextVar("agentry_tool_context", default=None)


@contextmanager
def use_tool_context(context: ToolContext) -> Iterator[ToolContext]:
    """Run the enclosed tool call for this task; the previous context comes back after."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def active_tool_context() -> ToolContext | None:
    """The call's context, if it runs for a task, as handed on to a tool's own process: without
    the workspace, whose database connection stays in the worker."""
    context = _current.get()
    return None if context is None else replace(context, workspace=None)


def current_tool_context() -> ToolContext:
    context = _current.get()
    if context is None:
        raise ToolError("this tool needs a task workspace, and this call runs without a task")
    return context
