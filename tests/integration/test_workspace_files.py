"""A task's workspace lives in Postgres: every worker sees the same files, a call's changes
land only with its recorded result, the quota holds even for parallel calls, and a client can
read the files through the API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import ActivityEnvironment

from activities.db.steps import StepRepository
from activities.task_workspace import TaskWorkspace, WorkspaceQuota
from activities.tool_calls import ToolCallActivities
from activities.tools.context import ToolContext, use_tool_context
from activities.tools.errors import ToolError
from activities.tools.registry import default_registry
from activities.tools.workspace import (
    MAX_FILE_BYTES,
    delete_file,
    list_files,
    read_file,
    write_file,
)
from services.devstack.processes import wait_until
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import (
    events,
    messages,
    new_task_row,
    submit,
    wait_for_status,
    worker_process,
)
from tests.stack import RunningStack
from workflows.contracts.tool_calls import ToolCall, ToolCallRequest

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def task_id(db_sessions: Sessions) -> uuid.UUID:
    return await new_task_row(db_sessions, "files")


def one_worker(db_sessions: Sessions, quota: WorkspaceQuota | None = None) -> ToolCallActivities:
    """The tool activities as one worker process holds them (no state shared but Postgres)."""
    return ToolCallActivities(db_sessions, default_registry(), workspace_quota=quota)


async def run(
    worker: ToolCallActivities, task_id: uuid.UUID, call_id: str, tool: str, **arguments: Any
) -> str:
    request = ToolCallRequest(
        task_id=str(task_id), iteration=0, call=ToolCall(id=call_id, name=tool, arguments=arguments)
    )
    result = await ActivityEnvironment().run(worker.run_tool, request)
    return ("error " if result.is_error else "") + str(result.message_id)


async def tool_result(sessions: Sessions, task_id: uuid.UUID, call_id: str) -> str:
    async with sessions() as session:
        row = await StepRepository(session).find(task_id, f"tool:0:{call_id}")
    assert row is not None and row.content is not None
    return row.content


async def test_a_file_written_on_one_worker_is_read_and_deleted_on_another(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    first, second = one_worker(db_sessions), one_worker(db_sessions)
    await run(first, task_id, "w", "write_file", path="drafts/../notes.md", content="kept é")
    await run(second, task_id, "r", "read_file", path="notes.md")
    await run(second, task_id, "l", "list_files")
    await run(first, task_id, "d", "delete_file", path="notes.md")
    await run(second, task_id, "r2", "read_file", path="notes.md")

    assert await tool_result(db_sessions, task_id, "w") == "wrote notes.md (7 bytes)"
    assert await tool_result(db_sessions, task_id, "r") == "kept é"
    assert await tool_result(db_sessions, task_id, "l") == "notes.md (7 bytes)"
    assert await tool_result(db_sessions, task_id, "d") == "deleted notes.md"
    assert "no file 'notes.md'" in await tool_result(db_sessions, task_id, "r2")


async def test_a_calls_changes_land_only_with_its_result(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    """A call whose recording never happens (a crash, an outage) has changed nothing, so its
    retry starts from the same files and never writes or deletes twice."""
    crashed = TaskWorkspace(db_sessions, task_id, WorkspaceQuota())
    with use_tool_context(ToolContext(task_id=str(task_id), tenant_id=None, workspace=crashed)):
        assert await write_file("a.txt", "first attempt") == "wrote a.txt (13 bytes)"
        assert await read_file("a.txt") == "first attempt"  # the call sees its own change
    fresh = TaskWorkspace(db_sessions, task_id, WorkspaceQuota())
    assert await fresh.sizes() == {}

    await run(one_worker(db_sessions), task_id, "w", "write_file", path="a.txt", content="x")
    assert await TaskWorkspace(db_sessions, task_id, WorkspaceQuota()).sizes() == {"a.txt": 1}


async def test_the_quota_holds_for_one_call_and_for_parallel_calls(
    db_sessions: Sessions, task_id: uuid.UUID
) -> None:
    quota = WorkspaceQuota(max_bytes=10, max_files=2)
    worker = one_worker(db_sessions, quota)
    await run(worker, task_id, "a", "write_file", path="a", content="12345")
    assert "error" in await run(worker, task_id, "big", "write_file", path="b", content="123456")
    assert "limited to 10 bytes" in await tool_result(db_sessions, task_id, "big")
    await run(worker, task_id, "b", "write_file", path="b", content="1")
    assert "error" in await run(worker, task_id, "c", "write_file", path="c", content="1")
    assert "limited to 2 files" in await tool_result(db_sessions, task_id, "c")
    await run(worker, task_id, "a2", "write_file", path="a", content="123456789")  # replaces

    # two calls of one turn, each within the quota when it ran, together over it
    other = await new_task_row(db_sessions, "files")
    left, right = (TaskWorkspace(db_sessions, other, quota) for _ in range(2))
    await left.write("l", b"123456")
    await right.write("r", b"123456")
    async with db_sessions.begin() as session:
        assert await left.apply(session) is None
    async with db_sessions.begin() as session:
        refused = await right.apply(session)
    assert refused is not None and "limited to 10 bytes" in refused
    assert refused.endswith("nothing was changed")
    assert await TaskWorkspace(db_sessions, other, quota).sizes() == {"l": 6}


@pytest.fixture
async def workspace(db_sessions: Sessions, task_id: uuid.UUID) -> AsyncIterator[TaskWorkspace]:
    view = TaskWorkspace(db_sessions, task_id, WorkspaceQuota())
    with use_tool_context(ToolContext(task_id=str(task_id), tenant_id=None, workspace=view)):
        yield view


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
        ("n" * 300, "longer than 255 bytes"),
        ("a/" * 600, "paths are limited to 1024"),
    ],
)
async def test_paths_that_leave_the_workspace_or_are_too_long_are_refused(
    workspace: TaskWorkspace, path: str, words: str
) -> None:
    for attempt in (partial(write_file, path, "x"), partial(read_file, path),
                    partial(delete_file, path)):  # fmt: skip
        with pytest.raises(ToolError, match=words):
            await attempt()
    assert await workspace.sizes() == {}


async def test_folders_files_and_sizes_are_told_apart(workspace: TaskWorkspace) -> None:
    assert await list_files() == "the workspace is empty"
    await write_file("drafts/a.md", "a")
    assert await write_file("drafts/a.md", "aa") == "replaced drafts/a.md (2 bytes)"
    with pytest.raises(ToolError, match="'drafts' is a folder, not a file"):
        await read_file("drafts")
    with pytest.raises(ToolError, match="'drafts' is a folder, not a file"):
        await delete_file("drafts/")
    with pytest.raises(ToolError, match="'drafts' is a folder, not a file"):
        await write_file("drafts", "x")
    with pytest.raises(ToolError, match="cannot write 'drafts/a.md/b.md': 'drafts/a.md' is a"):
        await write_file("drafts/a.md/b.md", "x")
    with pytest.raises(ToolError, match="no file 'missing.md'"):
        await read_file("missing.md")
    assert (await write_file("max.txt", "a" * MAX_FILE_BYTES)).endswith(f"({MAX_FILE_BYTES} bytes)")
    with pytest.raises(ToolError, match="limited to"):
        await write_file("big.txt", "é" * (MAX_FILE_BYTES // 2 + 1))  # bytes count
    assert await list_files() == f"drafts/a.md (2 bytes)\nmax.txt ({MAX_FILE_BYTES} bytes)"


async def test_without_a_task_the_file_tools_say_so() -> None:
    for attempt in (partial(write_file, "a", "x"), partial(read_file, "a"), list_files):
        with pytest.raises(ToolError, match="this tool needs a task workspace"):
            await attempt()


async def test_the_file_clerk_task_moves_between_two_workers_midway(
    stack: RunningStack, tmp_path: Path
) -> None:
    marker = await stack.scripted.script(
        unique_key("two-workers"),
        [
            reply_tool_calls([("write_file", {"path": "notes.md", "content": "from worker a"})]),
            reply_tool_calls([("read_file", {"path": "notes.md"})], delay_s=1.0),
            reply_text("done"),
        ],
    )
    first, second = (
        worker_process(stack, "files", "worker-a", tmp_path),
        worker_process(stack, "files", "worker-b", tmp_path),
    )
    client = await connect_temporal(stack.settings)
    async with stack.api() as api:
        try:
            await first.start()
            task = await submit(api, "scripted-files", f"keep notes {marker}")

            async def written() -> bool:
                return any(e["type"] == "tool_call" for e in await events(api, task["id"]))

            await wait_until(written, "the write on worker a", 60, first)
            await first.stop()  # drains the model call in flight, then exits
            await second.start()
            done = await wait_for_status(api, task["id"], timeout=60)
            log = await events(api, task["id"])
            files = (await api.get(f"/v1/tasks/{task['id']}/files")).json()
        finally:
            await asyncio.gather(first.stop(), second.stop())
    history = await client.get_workflow_handle(f"task-{task['id']}").fetch_history()

    assert done["status"] == "succeeded", (done, second.log_tail())
    tools = [e["data"] for e in log if e["type"] == "tool_call"]
    assert [(t["name"], t["result"]) for t in tools] == [
        ("write_file", "wrote notes.md (13 bytes)"),
        ("read_file", "from worker a"),
    ]
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    tool_workers = [
        e.activity_task_started_event_attributes.identity
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and scheduled[e.activity_task_started_event_attributes.scheduled_event_id] == "run_tool"
    ]
    assert len(set(tool_workers)) == 2  # the write and the read ran on different workers
    assert files["items"][0]["path"] == "notes.md" and files["total_bytes"] == 13


async def test_a_clients_view_of_the_files(stack: RunningStack) -> None:
    marker = await stack.scripted.script(
        unique_key("files-api"),
        [reply_tool_calls([("write_file", {"path": "drafts/r.txt", "content": "report"})]),
         reply_text("done")],
    )  # fmt: skip
    other = await stack.create_key("submitter", "files-other", tenant=f"o-{uuid.uuid4().hex[:6]}")
    async with stack.api() as api, stack.api(other) as stranger:
        task = await submit(api, "scripted-approvals", f"report {marker}")
        await wait_for_status(api, task["id"], timeout=60)
        listing = await api.get(f"/v1/tasks/{task['id']}/files")
        content = await api.get(f"/v1/tasks/{task['id']}/files/drafts/r.txt")
        missing = await api.get(f"/v1/tasks/{task['id']}/files/nope.txt")
        hidden = await stranger.get(f"/v1/tasks/{task['id']}/files/drafts/r.txt")
    assert [(f["path"], f["size"]) for f in listing.json()["items"]] == [("drafts/r.txt", 6)]
    assert content.text == "report" and content.headers["content-type"].startswith("text/plain")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert hidden.status_code == 404


async def test_a_task_starts_with_the_files_its_submit_gave(stack: RunningStack) -> None:
    marker = await stack.scripted.script(
        unique_key("files-given"),
        [reply_tool_calls([("read_file", {"path": "src/app.py"})]), reply_text("read it")],
    )
    files = {"./src/app.py": "def add(a, b):\n    return a - b\n", "README.md": "# app\n"}
    async with stack.api() as api:
        task = await submit(api, "scripted-approvals", f"review {marker}", files=files)
        await wait_for_status(api, task["id"], timeout=60)
        listing = await api.get(f"/v1/tasks/{task['id']}/files")
        transcript = await messages(api, task["id"])
    stored = [(f["path"], f["size"]) for f in listing.json()["items"]]
    assert stored == [("README.md", 6), ("src/app.py", 32)]  # "./src/app.py" normalised
    tool_results = [m["content"] for m in transcript if m["role"] == "tool"]
    assert tool_results == ["def add(a, b):\n    return a - b\n"]


@pytest.mark.parametrize(
    ("files", "status", "named"),
    [
        ({"/etc/passwd": "x"}, 422, "is absolute"),
        ({"../up.txt": "x"}, 422, "leads outside the workspace"),
        ({"a": "x", "a/b.txt": "y"}, 422, "'a' is a file and a folder of 'a/b.txt'"),
        ({"a.txt": "x", "./a.txt": "y"}, 422, "both name 'a.txt'"),
        ({f"f{n}.txt": "" for n in range(1001)}, 413, "a workspace holds at most 1000"),
    ],
)
async def test_files_a_workspace_could_not_hold_are_refused_with_the_reason(
    stack: RunningStack, files: dict[str, str], status: int, named: str
) -> None:
    async with stack.api() as api:
        response = await api.post(
            "/v1/tasks", json={"agent": "scripted-approvals", "input": "x", "files": files}
        )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert named in response.text


async def test_an_idempotent_retry_with_other_files_is_a_conflict(stack: RunningStack) -> None:
    body = {"agent": "scripted-approvals", "input": "x", "files": {"a.txt": "one"}}
    headers = {"Idempotency-Key": unique_key("files-key")}
    async with stack.api() as api:
        first = await api.post("/v1/tasks", json=body, headers=headers)
        again = await api.post("/v1/tasks", json=body, headers=headers)
        other = await api.post(
            "/v1/tasks", json={**body, "files": {"a.txt": "two"}}, headers=headers
        )
        await api.post(f"/v1/tasks/{first.json()['id']}/cancel", json={})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
