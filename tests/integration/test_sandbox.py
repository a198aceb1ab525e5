"""Model-written code runs in a sandbox over the task's files. What it writes in the workspace
is kept; everything hostile (network, writes elsewhere, the worker's secrets, a fork bomb, a
memory bomb, an endless loop, a sleep) is contained and comes back to the model as an error,
with no file change kept. Each case runs through the tool activity, as a task's call would."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.db.steps import StepRepository
from activities.task_workspace import TaskWorkspace, WorkspaceQuota
from activities.tool_calls import ToolCallActivities
from activities.tools import code
from activities.tools.registry import default_registry
from activities.tools.sandbox import NOBODY, SandboxLimits, _processes_of
from tests.integration.helpers import new_task_row
from workflows.contracts.tool_calls import ToolCall, ToolCallRequest

Sessions = async_sessionmaker[AsyncSession]
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def short_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code, "LIMITS", SandboxLimits(wall_seconds=4, cpu_seconds=2, memory_mb=256))


@pytest.fixture
async def task_id(db_sessions: Sessions) -> uuid.UUID:
    return await new_task_row(db_sessions, "sandbox")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A server on the worker's loopback, which sandboxed code must not reach."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


async def call(sessions: Sessions, task_id: uuid.UUID, tool: str, text: str) -> tuple[bool, str]:
    """(is_error, what the model reads) for one call of a code tool."""
    argument = "code" if tool == "run_python" else "command"
    call_id = uuid.uuid4().hex[:8]
    request = ToolCallRequest(
        task_id=str(task_id),
        iteration=0,
        call=ToolCall(id=call_id, name=tool, arguments={argument: text}),
    )
    worker = ToolCallActivities(sessions, default_registry())
    result = await ActivityEnvironment().run(worker.run_tool, request)
    async with sessions() as session:
        row = await StepRepository(session).find(task_id, f"tool:0:{call_id}")
    assert row is not None and row.content is not None
    return result.is_error, row.content


async def stored(sessions: Sessions, task_id: uuid.UUID) -> dict[str, bytes]:
    workspace = TaskWorkspace(sessions, task_id, WorkspaceQuota())
    return {path: await workspace.read(path) or b"" for path in await workspace.sizes()}


async def test_code_reads_and_writes_the_tasks_files(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    await call(db_sessions, task_id, "run_command", "mkdir -p data && echo '3 4 5' > data/n.txt")
    program = (
        "numbers = open('data/n.txt').read().split()\n"
        "open('total.txt', 'w').write(str(sum(map(int, numbers))))\n"
        "print('summed', len(numbers))"
    )
    is_error, result = await call(db_sessions, task_id, "run_python", program)
    assert not is_error, result
    assert result == "summed 3\nfiles changed: total.txt"
    assert await stored(db_sessions, task_id) == {"data/n.txt": b"3 4 5\n", "total.txt": b"12"}

    is_error, result = await call(db_sessions, task_id, "run_command", "rm -r data; ls")
    assert (is_error, result) == (False, "total.txt\nfiles changed: data/n.txt (deleted)")
    assert set(await stored(db_sessions, task_id)) == {"total.txt"}


async def test_a_failed_run_reports_its_output_and_keeps_no_change(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    is_error, result = await call(
        db_sessions, task_id, "run_python", "open('half.txt', 'w').write('x'); print('before'); 1/0"
    )
    assert is_error
    assert "exit code 1; no file changes were kept" in result
    assert "before" in result and "ZeroDivisionError" in result
    assert await stored(db_sessions, task_id) == {}


async def test_there_is_no_network_not_even_the_workers_loopback(
    db_sessions: Sessions, task_id: uuid.UUID, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    for target in (f"('127.0.0.1', {port})", "('1.1.1.1', 53)", "('pypi.org', 443)"):
        program = f"import socket; socket.create_connection({target}, timeout=2)"
        is_error, result = await call(db_sessions, task_id, "run_python", program)
        assert is_error, target
        assert any(
            reason in result
            for reason in ("Connection refused", "Network is unreachable", "name resolution")
        ), result
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever connected


@pytest.mark.parametrize(
    "outside",
    ["/usr/agentry-escape", "/agentry-escape", "/dev/shm/agentry-escape", str(PROJECT / "escape")],
)
async def test_nothing_outside_the_workspace_can_be_written(
    db_sessions: Sessions, task_id: uuid.UUID, outside: str
) -> None:
    is_error, result = await call(
        db_sessions, task_id, "run_python", f"open({outside!r}, 'w').write('x')"
    )
    assert is_error
    assert "Error" in result  # PermissionError, read-only file system, no such folder
    assert not os.path.exists(outside)


async def test_the_workers_environment_and_secrets_are_out_of_reach(
    db_sessions: Sessions, task_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTRY_LITELLM_KEY", "sk-worker-secret")
    secret_file = PROJECT / ".agentry" / f"test-secret-{uuid.uuid4().hex[:8]}"
    secret_file.parent.mkdir(exist_ok=True)
    secret_file.write_text("sk-file-secret")
    try:
        for program in (
            "import os; print(os.environ['AGENTRY_LITELLM_KEY'])",
            f"print(open('/proc/{os.getpid()}/environ').read())",
            f"print(open({str(secret_file)!r}).read())",
            "import os; print(open(f'/proc/{os.getppid()}/environ').read())",
        ):
            is_error, result = await call(db_sessions, task_id, "run_python", program)
            assert is_error, program
            assert "secret" not in result.replace("test-secret-", ""), result
        _, shown = await call(db_sessions, task_id, "run_command", "env; hostname")
        assert "HOME=/workspace" in shown and "sandbox" in shown
        assert "AGENTRY" not in shown and "secret" not in shown
    finally:
        secret_file.unlink()


async def test_a_fork_bomb_is_held_at_the_process_limit(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    program = (
        "import os, time\n"
        "while True:\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
    )
    is_error, result = await call(db_sessions, task_id, "run_python", program)
    assert is_error
    assert "Resource temporarily unavailable" in result
    for _ in range(50):  # the sandbox's pid namespace ends with its first process
        if _processes_of(NOBODY) == 0:
            break
        await asyncio.sleep(0.1)
    assert _processes_of(NOBODY) == 0


async def test_a_memory_bomb_fails_at_the_memory_limit(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    program = "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024 * 1024))"
    is_error, result = await call(db_sessions, task_id, "run_python", program)
    assert is_error
    assert "MemoryError" in result


async def test_an_endless_loop_is_stopped_at_the_cpu_limit_and_a_sleep_at_the_wall_clock(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    is_error, result = await call(db_sessions, task_id, "run_python", "while True: pass")
    assert is_error
    assert result.endswith("killed by SIGXCPU (over 2 seconds of CPU); no file changes were kept")

    is_error, result = await call(db_sessions, task_id, "run_command", "touch t.txt; sleep 60")
    assert is_error
    assert "stopped after 4 seconds (the wall-clock limit); no file changes were kept" in result
    assert await stored(db_sessions, task_id) == {}


async def test_a_link_out_of_the_workspace_is_not_followed_back(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    is_error, result = await call(
        db_sessions, task_id, "run_command", "ln -s /etc/hostname leak.txt; echo ok > kept.txt"
    )
    assert not is_error, result
    assert "leak.txt (not kept: a link" in result
    assert await stored(db_sessions, task_id) == {"kept.txt": b"ok\n"}


async def test_filling_the_disk_with_many_files_is_stopped(
    db_sessions: Sessions, task_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code, "LIMITS", SandboxLimits(wall_seconds=20, folder_mb=16))
    program = (
        "import os\n"
        "for n in range(10_000):\n"
        "    open(f'f{n}.bin', 'wb').write(os.urandom(1024 * 1024))\n"
    )
    is_error, result = await call(db_sessions, task_id, "run_python", program)
    assert is_error
    assert "stopped for writing more than 16 MiB or 10000 files" in result
    assert await stored(db_sessions, task_id) == {}


async def test_scratch_in_tmp_is_private_bounded_and_gone_after_the_call(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    is_error, result = await call(
        db_sessions,
        task_id,
        "run_command",
        "echo s > /tmp/agentry-scratch && cat /tmp/agentry-scratch",
    )
    assert (is_error, result) == (False, "s")
    assert not os.path.exists("/tmp/agentry-scratch")  # not the worker's /tmp
    fill = "for n in $(seq 20); do head -c 4000000 /dev/zero > /tmp/big$n || exit 1; done"
    is_error, result = await call(db_sessions, task_id, "run_command", fill)
    assert is_error and "No space left on device" in result


async def test_a_file_name_that_is_not_utf8_is_not_taken_back(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    program = "open(b'bad\\xff.txt', 'w').write('x'); open('good.txt', 'w').write('y')"
    is_error, result = await call(db_sessions, task_id, "run_python", program)
    assert not is_error, result
    assert "not kept" in result
    assert await stored(db_sessions, task_id) == {"good.txt": b"y"}
