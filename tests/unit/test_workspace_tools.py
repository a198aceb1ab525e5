"""File tools work only inside the task's workspace, refuse every way out of it, and say
clearly what went wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from activities.heartbeat import heartbeating
from activities.tools.context import (
    ToolContext,
    current_tool_context,
    use_tool_context,
)
from activities.tools.errors import ToolError
from activities.tools.registry import default_registry
from activities.tools.workspace import (
    MAX_FILE_BYTES,
    delete_file,
    list_files,
    read_file,
    write_file,
)


def every_use(path: str) -> list[Callable[[], str]]:
    """Each tool that takes a path, called with this one."""
    return [partial(write_file, path, "x"), partial(read_file, path), partial(delete_file, path)]


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "workspaces" / "tenant" / "task-1"
    with use_tool_context(ToolContext(task_id="task-1", tenant_id="tenant", workspace=folder)):
        yield folder


def test_write_read_list_and_delete(workspace: Path) -> None:
    assert not workspace.exists()
    assert list_files() == "the workspace is empty"

    assert write_file("notes.md", "hello") == "wrote notes.md (5 bytes)"
    assert workspace.is_dir()  # created on first write
    assert write_file("./drafts/sub/../plan.md", "é") == "wrote drafts/plan.md (2 bytes)"
    assert write_file("notes.md", "hello again") == "replaced notes.md (11 bytes)"

    assert read_file("notes.md") == "hello again"
    assert read_file(" drafts/plan.md ") == "é"
    assert (workspace / "drafts" / "plan.md").read_text() == "é"
    assert list_files() == "drafts/plan.md (2 bytes)\nnotes.md (11 bytes)"

    assert delete_file("notes.md") == "deleted notes.md"
    assert not (workspace / "notes.md").exists()
    assert list_files() == "drafts/plan.md (2 bytes)"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/etc/passwd", "is absolute"),
        ("../outside.txt", "leads outside the workspace"),
        ("drafts/../../outside.txt", "leads outside the workspace"),
        ("..", "leads outside the workspace"),
        ("", "path is empty"),
        (".", "names the workspace itself"),
        ("a\x00b", "NUL"),
    ],
)
def test_paths_that_leave_the_workspace_are_refused(workspace: Path, path: str, words: str) -> None:
    for attempt in every_use(path):
        with pytest.raises(ToolError, match=words):
            attempt()
    assert not (workspace.parent / "outside.txt").exists()


def test_symbolic_links_out_of_the_workspace_are_refused(workspace: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    workspace.mkdir(parents=True)
    (workspace / "link.txt").symlink_to(secret)
    (workspace / "out").symlink_to(tmp_path)
    (workspace / "inner.txt").write_text("inner")
    (workspace / "alias.txt").symlink_to(workspace / "inner.txt")

    for path in ("link.txt", "out/secret.txt", "out/new.txt"):
        for attempt in every_use(path):
            with pytest.raises(ToolError, match="outside the workspace through a symbolic link"):
                attempt()
    assert secret.read_text() == "top secret"
    assert not (tmp_path / "new.txt").exists()
    assert read_file("alias.txt") == "inner"  # a link that stays inside is fine
    assert list_files() == "inner.txt (5 bytes)"  # links are not listed


def test_a_symbolic_link_loop_is_refused(workspace: Path) -> None:
    workspace.mkdir(parents=True)
    (workspace / "loop").symlink_to(workspace / "loop")
    with pytest.raises(ToolError):
        read_file("loop")


def test_files_over_the_size_limit_are_refused(workspace: Path) -> None:
    assert write_file("max.txt", "a" * MAX_FILE_BYTES).endswith(f"({MAX_FILE_BYTES} bytes)")
    with pytest.raises(ToolError, match="limited to"):
        write_file("big.txt", "a" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ToolError, match="limited to"):
        write_file("big.txt", "é" * (MAX_FILE_BYTES // 2 + 1))  # bytes count, not characters
    assert not (workspace / "big.txt").exists()
    (workspace / "huge.txt").write_bytes(b"a" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ToolError, match="larger than"):
        read_file("huge.txt")


def test_reading_or_deleting_what_is_not_a_file(workspace: Path) -> None:
    write_file("drafts/a.md", "a")
    (workspace / "blob.bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ToolError, match="no file 'missing.md' in the workspace"):
        read_file("missing.md")
    with pytest.raises(ToolError, match="'drafts' is a folder, not a file"):
        read_file("drafts")
    with pytest.raises(ToolError, match="'drafts' is a folder, not a file"):
        delete_file("drafts/")
    with pytest.raises(ToolError, match="'drafts' is a folder, not a file"):
        write_file("drafts", "x")
    with pytest.raises(ToolError, match="no file 'missing.md'"):
        delete_file("missing.md")
    with pytest.raises(ToolError, match="not UTF-8 text"):
        read_file("blob.bin")
    with pytest.raises(ToolError, match="cannot write 'drafts/a.md/b.md'"):
        write_file("drafts/a.md/b.md", "x")  # a file where a folder should be


def test_errors_do_not_reveal_the_host_folder(workspace: Path) -> None:
    write_file("a.md", "a")
    for attempt in (partial(read_file, "nope"), partial(write_file, "a.md/b", "x")):
        with pytest.raises(ToolError) as error:
            attempt()
        assert str(workspace) not in str(error.value)


def test_without_a_task_context_the_tools_say_so() -> None:
    for attempt in [*every_use("a"), list_files]:
        with pytest.raises(ToolError, match="this tool needs a task workspace"):
            attempt()


def test_the_context_is_restored_after_use(tmp_path: Path) -> None:
    outer = ToolContext(task_id="outer", tenant_id=None, workspace=tmp_path / "outer")
    inner = ToolContext(task_id="inner", tenant_id=None, workspace=tmp_path / "inner")
    with use_tool_context(outer):
        with use_tool_context(inner):
            assert current_tool_context() is inner
        assert current_tool_context() is outer
    with pytest.raises(ToolError):
        current_tool_context()


async def test_the_context_reaches_the_tool_thread_through_the_registry(tmp_path: Path) -> None:
    """`Tool.invoke` runs sync tools in `asyncio.to_thread`, which copies the context."""
    registry = default_registry()
    assert {"write_file", "read_file", "list_files", "delete_file"} <= set(registry.names())
    thread_context: list[ToolContext] = []

    async def run(task_id: str) -> str:
        context = ToolContext(task_id=task_id, tenant_id="t", workspace=tmp_path / task_id)
        with use_tool_context(context):
            await asyncio.to_thread(lambda: thread_context.append(current_tool_context()))
            await registry.get("write_file").invoke({"path": "id.txt", "content": task_id})
            return await registry.get("read_file").invoke({"path": "id.txt"})

    # two tasks at once each see their own workspace
    assert list(await asyncio.gather(run("a"), run("b"))) == ["a", "b"]
    assert sorted(context.task_id for context in thread_context) == ["a", "b"]
    assert (tmp_path / "a" / "id.txt").read_text() == "a"
    with pytest.raises(ToolError, match="needs a task workspace"):
        await registry.get("list_files").invoke({})


async def test_the_context_reaches_a_tool_run_under_heartbeats(tmp_path: Path) -> None:
    """The tool activity wraps `heartbeating(tool.invoke(...))`, which runs it as a new task."""
    tool = default_registry().get("list_files")
    context = ToolContext(task_id="t", tenant_id=None, workspace=tmp_path / "t")
    with use_tool_context(context):
        write_file("seen.txt", "yes")
        assert await heartbeating(tool.invoke({})) == "seen.txt (3 bytes)"


def test_os_errors_become_tool_errors(workspace: Path) -> None:
    name = "n" * 300  # longer than a file name may be
    with pytest.raises(ToolError, match=r"cannot write 'n+': File name too long"):
        write_file(name, "x")
    with pytest.raises(ToolError, match=r"cannot read 'n+': File name too long"):
        read_file(name)
