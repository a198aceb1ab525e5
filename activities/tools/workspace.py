"""File tools that work in the task's own workspace folder.

The model gives paths relative to the workspace. Each path is checked before any file is
touched: absolute paths and `..` that leaves the folder are refused, the path is resolved
(symbolic links included) and must still lie inside, and files are capped at 1 MB. Errors
name the model's path only; the folder on the host stays hidden.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from activities.tools.context import current_tool_context
from activities.tools.errors import ToolError

MAX_FILE_BYTES = 1024 * 1024
MAX_LISTED_FILES = 500


def normal_path(path: str) -> str:
    """What an approval rule and the tool both judge: no surrounding blanks, `//`, `.` and
    `..` folded (`" secrets/./k"` is `secrets/k` to both)."""
    text = path.strip()
    return posixpath.normpath(text) if text else text


PathArgument = Annotated[
    str,
    Field(description="File path relative to the workspace, e.g. 'drafts/notes.md'."),
    AfterValidator(normal_path),
]


def write_file(
    path: PathArgument,
    content: Annotated[str, Field(description="The whole text to write (UTF-8).")],
) -> str:
    """Write a text file in the task workspace, replacing it if it exists."""
    _, target, shown = _resolve(path)
    data = content.encode()
    if len(data) > MAX_FILE_BYTES:
        raise ToolError(f"content is {len(data)} bytes; files are limited to {MAX_FILE_BYTES}")
    with _os_errors(f"write {shown!r}"):
        if target.is_dir():
            raise ToolError(f"{shown!r} is a folder, not a file")
        existed = target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)  # the workspace too, on first write
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        with os.fdopen(os.open(target, flags, 0o644), "wb") as file:
            file.write(data)
    return f"{'replaced' if existed else 'wrote'} {shown} ({len(data)} bytes)"


def read_file(path: PathArgument) -> str:
    """Read a text file from the task workspace."""
    _, target, shown = _resolve(path)
    with _os_errors(f"read {shown!r}"):
        _require_file(target, shown)
        if target.stat().st_size > MAX_FILE_BYTES:
            raise ToolError(f"{shown!r} is larger than {MAX_FILE_BYTES} bytes")
        data = target.read_bytes()
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise ToolError(f"{shown!r} is not UTF-8 text") from None


def list_files() -> str:
    """List the files in the task workspace with their sizes in bytes."""
    root = _workspace_root()
    files: list[tuple[str, int]] = []
    with _os_errors("list the workspace"):
        for folder, _, names in os.walk(root):  # does not follow symbolic links
            for name in names:
                entry = Path(folder, name)
                if entry.is_file() and not entry.is_symlink():
                    files.append((entry.relative_to(root).as_posix(), entry.stat().st_size))
    if not files:
        return "the workspace is empty"
    files.sort()
    lines = [f"{name} ({size} bytes)" for name, size in files[:MAX_LISTED_FILES]]
    if len(files) > MAX_LISTED_FILES:
        lines.append(f"... and {len(files) - MAX_LISTED_FILES} more files")
    return "\n".join(lines)


def delete_file(path: PathArgument) -> str:
    """Delete a file from the task workspace."""
    _, target, shown = _resolve(path)
    with _os_errors(f"delete {shown!r}"):
        _require_file(target, shown)
        target.unlink()
    return f"deleted {shown}"


@contextmanager
def _os_errors(action: str) -> Iterator[None]:
    """An OS error as a tool error the model can act on, without the host's paths."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ToolError(f"cannot {action}: {reason}") from None


def _workspace_root() -> Path:
    try:
        return current_tool_context().workspace.resolve()
    except (OSError, RuntimeError):
        raise ToolError("the task workspace cannot be opened") from None


def _resolve(path: str) -> tuple[Path, Path, str]:
    """(workspace, the file's real path inside it, the normalised relative path to show)."""
    text = path.strip()
    if not text:
        raise ToolError("path is empty; give a file path relative to the workspace")
    if "\x00" in text:
        raise ToolError("path contains a NUL character")
    if posixpath.isabs(text):
        raise ToolError(f"path {path!r} is absolute; give a path relative to the workspace")
    normal = posixpath.normpath(text)
    if normal == ".." or normal.startswith("../"):
        raise ToolError(f"path {path!r} leads outside the workspace")
    if normal == ".":
        raise ToolError(f"path {path!r} names the workspace itself, not a file")
    root = _workspace_root()
    try:
        target = (root / normal).resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        raise ToolError(f"path {path!r} cannot be resolved") from None
    if not target.is_relative_to(root) or target == root:
        raise ToolError(f"path {path!r} leads outside the workspace through a symbolic link")
    return root, target, normal


def _require_file(target: Path, shown: str) -> None:
    if target.is_dir():
        raise ToolError(f"{shown!r} is a folder, not a file")
    if not target.is_file():
        raise ToolError(f"no file {shown!r} in the workspace; list_files shows what exists")


WORKSPACE_TOOLS: tuple[Callable[..., Any], ...] = (write_file, read_file, list_files, delete_file)
