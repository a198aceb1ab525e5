"""File tools that work in the task's own workspace.

The workspace lives in Postgres (activities/task_workspace.py), so every worker sees the
same files and a task may move between workers. The model gives paths relative to the
workspace; each is checked and normalised before use: absolute paths, `..` that leaves the
workspace, NUL and over-long names are refused, files are capped at 1 MB and the workspace at
its quota. Folders are implied by the paths of the files in them.

These tools do small, bounded work (no parsing of model-written expressions), so they run in
the activity, not in a child process: they need its database connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from activities.tools.context import Workspace, current_tool_context
from activities.tools.errors import ToolError
from activities.tools.paths import MAX_FILE_BYTES, checked_path, normal_path

MAX_LISTED_FILES = 500


PathArgument = Annotated[
    str,
    Field(description="File path relative to the workspace, e.g. 'drafts/notes.md'."),
    AfterValidator(normal_path),
]


async def write_file(
    path: PathArgument,
    content: Annotated[str, Field(description="The whole text to write (UTF-8).")],
) -> str:
    """Write a text file in the task workspace, replacing it if it exists."""
    workspace, shown = task_workspace(), checked_path(path)
    data = content.encode()
    if len(data) > MAX_FILE_BYTES:
        raise ToolError(f"content is {len(data)} bytes; files are limited to {MAX_FILE_BYTES}")
    files = await workspace.sizes()
    if _is_folder(files, shown):
        raise ToolError(f"{shown!r} is a folder, not a file")
    parts = shown.split("/")
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth]) in files:
            folder = "/".join(parts[:depth])
            raise ToolError(f"cannot write {shown!r}: {folder!r} is a file, not a folder")
    existed = shown in files
    await workspace.write(shown, data)
    return f"{'replaced' if existed else 'wrote'} {shown} ({len(data)} bytes)"


async def read_file(path: PathArgument) -> str:
    """Read a text file from the task workspace."""
    workspace, shown = task_workspace(), checked_path(path)
    data = await workspace.read(shown)
    if data is None:
        raise ToolError(await _missing(workspace, shown))
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise ToolError(f"{shown!r} is not UTF-8 text") from None


async def list_files() -> str:
    """List the files in the task workspace with their sizes in bytes."""
    files = sorted((await task_workspace().sizes()).items())
    if not files:
        return "the workspace is empty"
    lines = [f"{name} ({size} bytes)" for name, size in files[:MAX_LISTED_FILES]]
    if len(files) > MAX_LISTED_FILES:
        lines.append(f"... and {len(files) - MAX_LISTED_FILES} more files")
    return "\n".join(lines)


async def delete_file(path: PathArgument) -> str:
    """Delete a file from the task workspace."""
    workspace, shown = task_workspace(), checked_path(path)
    if shown not in await workspace.sizes():
        raise ToolError(await _missing(workspace, shown))
    workspace.delete(shown)
    return f"deleted {shown}"


def task_workspace() -> Workspace:
    workspace = current_tool_context().workspace
    if workspace is None:
        raise ToolError("this tool needs a task workspace, and this call runs without a task")
    return workspace


def _is_folder(files: dict[str, int], path: str) -> bool:
    return any(name.startswith(path + "/") for name in files)


async def _missing(workspace: Workspace, shown: str) -> str:
    if _is_folder(await workspace.sizes(), shown):
        return f"{shown!r} is a folder, not a file"
    return f"no file {shown!r} in the workspace; list_files shows what exists"


WORKSPACE_TOOLS: tuple[Callable[..., Any], ...] = (write_file, read_file, list_files, delete_file)
# they change the task's files: a shadow run answers them with a dry-run text (Tool.side_effects)
SIDE_EFFECT_TOOLS: tuple[Callable[..., Any], ...] = (write_file, delete_file)
