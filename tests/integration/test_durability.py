"""A worker killed with SIGKILL mid-task: a new worker finishes the task, and no tool call
that had completed runs again."""

from __future__ import annotations

import os
import signal

from temporalio.client import Client

from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import (
    activity_attempts,
    events,
    served_at_least,
    submit,
    wait_for_status,
)
from tests.stack import RunningStack


async def test_sigkilled_worker_mid_task_is_replaced_and_the_task_completes(
    stack: RunningStack,
) -> None:
    key = unique_key("kill")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls(
                [("calculator", {"expression": "3*3"}), ("calculator", {"expression": "4*4"})]
            ),
            reply_text("never delivered: the worker dies while waiting", delay_s=30),
            reply_text("9 and 16"),
        ],
    )
    assert stack.stack.fleet is not None
    [worker] = stack.stack.fleet.workers("default")
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"squares {marker}")
        await served_at_least(stack, key, 2)  # tools done, second model call in flight
        killed, restarts = worker.process, worker.restarts
        assert killed is not None
        os.kill(killed.pid, signal.SIGKILL)
        await killed.wait()  # the supervisor starts the worker again; the new one takes over
        done = await wait_for_status(api, task["id"], timeout=120)
        log = await events(api, task["id"])

    assert worker.restarts == restarts + 1 and worker.process is not killed
    assert done["status"] == "succeeded", done
    assert done["result"] == "9 and 16"
    tool_events = [e for e in log if e["type"] == "tool_call"]
    assert sorted(e["data"]["result"] for e in tool_events) == ["16", "9"]
    assert all(e["data"]["attempt"] == 1 for e in tool_events)

    client: Client = await connect_temporal(stack.settings)
    history = await client.get_workflow_handle(
        done["workflow_id"] if "workflow_id" in done else f"task-{done['id']}"
    ).fetch_history()
    # each tool ran once (calculator is a quick tool: a local activity)
    assert activity_attempts(history, "run_tool") == [1, 1]
    # the interrupted model call was retried on the new worker
    model_attempts = activity_attempts(history, "model_turn")
    assert max(model_attempts) >= 2
