"""Worker pools on the whole stack: a pool's tasks run only on that pool's workers, and a worker
asked to stop (SIGTERM, as a scale-down does) finishes its in-flight tool call before exiting,
so the task completes on a replacement worker and nothing runs twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import WorkflowHandle

from services.processes import Child, ChildSpec
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import events, submit, wait_for_status
from tests.stack import RunningStack


async def test_a_pools_task_waits_for_that_pools_workers(stack: RunningStack) -> None:
    key = unique_key("pool")
    marker = await stack.scripted.script(key, [reply_text("done on pool isolated")])
    async with stack.api() as api:
        task = await submit(api, "scripted-isolated", f"hello {marker}")
        await asyncio.sleep(3)  # the stack's worker serves pool default only
        waiting = (await api.get(f"/v1/tasks/{task['id']}")).json()
        assert waiting["status"] == "queued", waiting
        assert (await stack.scripted.status(key))["served"] == 0
        pools = {p["name"]: p for p in (await api.get("/v1/pools")).json()["items"]}
        assert pools["isolated"]["workers_polling"] == 0
        assert pools["isolated"]["backlog"]["workflow_tasks"]["count"] >= 1
        assert pools["isolated"]["backlog"]["workflow_tasks"]["oldest_age_seconds"] > 0
        assert "scripted-isolated" in pools["isolated"]["agents"]
        assert pools["default"]["workers_polling"] >= 1
        table = await _agentry_pools(stack)
        [isolated_row] = [
            line.split() for line in table.splitlines() if line.startswith("isolated")
        ]
        assert isolated_row[-6] == "0" and isolated_row[-2:] == ["2/2/1", "0-2"], table

        worker = _pool_worker(stack, "isolated")
        await worker.start()
        try:
            done = await wait_for_status(api, task["id"], timeout=60)
        finally:
            await worker.stop()
    assert done["status"] == "succeeded", done
    assert done["result"] == "done on pool isolated"
    assert worker.process is not None and worker.process.returncode == 0, worker.log_tail()


async def test_sigterm_drains_the_running_tool_call_and_a_new_worker_finishes(
    stack: RunningStack,
) -> None:
    key = unique_key("drain")
    marker = await stack.scripted.script(
        key, [reply_tool_calls([("wait", {"seconds": 4})]), reply_text("done waiting")]
    )
    worker = stack.stack.children["worker"]
    client = await connect_temporal(stack.settings)
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"wait a bit {marker}")
        handle = client.get_workflow_handle(f"task-{task['id']}")
        await _until_tool_runs(handle)
        assert worker.process is not None
        worker.process.send_signal(signal.SIGTERM)  # what a scale-down or a rollout does
        signalled = time.monotonic()
        code = await asyncio.wait_for(worker.process.wait(), 45)
        drained_after = time.monotonic() - signalled
        # the worker waited for the tool instead of abandoning it
        log = await events(api, task["id"])
        assert [e["data"]["name"] for e in log if e["type"] == "tool_call"] == ["wait"]
        assert code == 0, worker.log_tail()
        assert drained_after > 1, drained_after

        await worker.start()  # the replacement takes the task's next steps
        done = await wait_for_status(api, task["id"], timeout=60)
        log = await events(api, task["id"])

    assert done["status"] == "succeeded", done
    assert done["result"] == "done waiting"
    [tool] = [e for e in log if e["type"] == "tool_call"]
    assert tool["data"]["attempt"] == 1 and tool["data"]["result"].startswith("waited 4")
    assert await _run_tool_attempts(handle) == [1]


async def _agentry_pools(stack: RunningStack) -> str:
    """What `agentry pools` prints for this stack."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "pools",
        env={**os.environ, **stack.settings.as_env()},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


def _pool_worker(stack: RunningStack, pool: str) -> Child:
    """One more worker process, for `pool`, configured like the stack's own."""
    return Child(
        ChildSpec(
            name=f"worker-{pool}",
            argv=[sys.executable, "-m", "services.cli", "worker", "--pool", pool],
            log_file=stack.settings.data_dir / "logs" / f"worker-{pool}.log",
            env=stack.settings.as_env(),
            stop_timeout=30,
        )
    )


async def _until_tool_runs(handle: WorkflowHandle[object, object], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = await handle.describe()
        for pending in described.raw_description.pending_activities:
            started = pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            if pending.activity_type.name == "run_tool" and started:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no tool call started within {timeout}s")


async def _run_tool_attempts(handle: WorkflowHandle[object, object]) -> list[int]:
    history = await handle.fetch_history()
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    return [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and scheduled[e.activity_task_started_event_attributes.scheduled_event_id] == "run_tool"
    ]
