"""The code tools: Python or a shell command, run in the sandbox over the task's files.

The task's workspace lives in Postgres, so each call copies it into a fresh folder, runs the
code there (activities/tools/sandbox.py) and takes back what the code wrote or deleted, through
the same quota and path checks as the file tools. A call that fails (a non-zero exit, a limit
hit) changes no file: its output goes back to the model as an error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from activities.tools.context import Workspace
from activities.tools.errors import ToolError
from activities.tools.paths import MAX_FILE_BYTES, checked_path
from activities.tools.sandbox import SandboxLimits, SandboxRun, run_sandboxed, sandbox_user
from activities.tools.workspace import task_workspace

LIMITS = SandboxLimits()


async def run_python(
    code: Annotated[str, Field(description="A Python 3 program; print what you need to see.")],
) -> str:
    """Run a Python program in a sandbox (no network) with the task's files as its working
    folder; files it writes there are kept. Returns what it printed."""
    return await run_in_sandbox(["python", "-I", "-c", code])


async def run_command(
    command: Annotated[str, Field(description="A shell command line, e.g. 'ls -l'.")],
) -> str:
    """Run a shell command in a sandbox (no network) with the task's files as its working
    folder; files it writes there are kept. Returns its output."""
    return await run_in_sandbox(["/bin/sh", "-c", command])


async def run_in_sandbox(
    argv: list[str], ok_exit_codes: frozenset[int] = frozenset({0}), keep_changes: bool = True
) -> str:
    """Run argv over a copy of the task's files and keep the files it changed (unless not
    keep_changes); an exit code not in ok_exit_codes is an error (no file kept)."""
    workspace = task_workspace()
    with tempfile.TemporaryDirectory(prefix="agentry-sandbox-") as scratch:
        folder = Path(scratch) / "workspace"
        before = await _copy_out(workspace, folder)
        run = await run_sandboxed(argv, folder, LIMITS)
        if run.overflowed:
            raise ToolError(
                f"stopped for writing more than {LIMITS.folder_mb} MiB or {LIMITS.folder_files} "
                "files; no file changes were kept"
            )
        if run.timed_out:
            raise ToolError(
                f"stopped after {LIMITS.wall_seconds:g} seconds (the wall-clock limit); "
                "no file changes were kept"
            )
        if run.exit_code not in ok_exit_codes:
            raise ToolError(_failure(run))
        changed = await _take_back(workspace, folder, before) if keep_changes else []
    return _report(run, changed)


async def _copy_out(workspace: Workspace, folder: Path) -> dict[str, bytes]:
    """Write the workspace's files into folder (owned by the sandbox's user); returns them."""
    files: dict[str, bytes] = {}
    folder.mkdir()
    for path in await workspace.sizes():
        content = await workspace.read(path)
        if content is None:
            continue
        files[path] = content
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    user = sandbox_user()
    if user is not None:  # the folder only: bubblewrap binds it while still root
        for place, folders, names in os.walk(folder):
            for name in (".", *folders, *names):
                os.chown(os.path.join(place, name), user, user)
    return files


async def _take_back(workspace: Workspace, folder: Path, before: dict[str, bytes]) -> list[str]:
    """Write back new and changed regular files, delete the vanished; returns what changed.
    Never follows a link the code made (it could point at the worker's own files)."""
    after: dict[str, bytes] = {}
    skipped: list[str] = []
    for place, _, names in os.walk(folder):
        for name in names:
            relative = os.path.relpath(os.path.join(place, name), folder)
            content = _regular_file(os.path.join(place, name))
            try:
                path = checked_path(relative)
            except ToolError:
                content = None
            if content is None:
                skipped.append(relative)
                continue
            after[path] = content
    changed: list[str] = []
    # deletes first: the quota judges the writes against the workspace without them; a file
    # that could not be taken back keeps what it held
    for path in sorted(set(before) - set(after) - set(skipped)):
        workspace.delete(path)
        changed.append(f"{path} (deleted)")
    for path, content in sorted(after.items()):
        if before.get(path) != content:
            await workspace.write(path, content)
            changed.append(path)
    reason = "not kept: a link, a special file, a bad name or over 1 MB"
    # a name that is not UTF-8 is shown with its bad bytes replaced (the result is stored)
    shown = (path.encode(errors="surrogateescape").decode(errors="replace") for path in skipped)
    changed += [f"{path} ({reason})" for path in shown]
    return changed


def _regular_file(path: str) -> bytes | None:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # a symbolic link, or gone
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        return file.read(MAX_FILE_BYTES + 1)


def _failure(run: SandboxRun) -> str:
    if run.exit_code < 0:
        signal_name = _signal_name(-run.exit_code)
        head = f"killed by {signal_name}"
        if signal_name == "SIGXCPU":
            head += f" (over {LIMITS.cpu_seconds} seconds of CPU)"
    else:
        head = f"exit code {run.exit_code}"
    return f"{head}; no file changes were kept\n{_output(run)}".rstrip()


def _report(run: SandboxRun, changed: list[str]) -> str:
    lines = [_output(run) or "(no output)"]
    if changed:
        lines.append("files changed: " + ", ".join(changed))
    return "\n".join(lines)


def _output(run: SandboxRun) -> str:
    parts = [run.stdout.rstrip()]
    if run.stderr.strip():
        parts.append("stderr:\n" + run.stderr.rstrip())
    return "\n".join(part for part in parts if part)


def _signal_name(number: int) -> str:
    with contextlib.suppress(ValueError):
        return signal.Signals(number).name
    return f"signal {number}"


CODE_TOOLS: tuple[Callable[..., Any], ...] = (run_python, run_command)
