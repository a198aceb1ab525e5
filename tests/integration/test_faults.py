"""Faults on the real stack, each ending in a task that completes (or fails with a reason in
words), none lost, and no completed side-effecting tool call made twice.

Workers here are the test's own (pool `faults`: tests/integration/fault_helpers.py), so
killing them disturbs no other test. How fast a retry starts after a kill is measured by
`python -m bench worker-kill` (docs/BENCHMARKS.md); these tests check what happens.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from services.temporal_client import connect_temporal
from services.worker.process import HEARTBEAT_FLUSH
from tests.fakes.script_client import (
    reply_error,
    reply_malformed,
    reply_text,
    reply_tool_calls,
    unique_key,
)
from tests.integration.fault_helpers import (
    AGENT,
    fault_workers,
    kill,
    started_attempt,
    worker_of,
)
from tests.integration.helpers import events, served_at_least, submit, wait_for_status
from tests.integration.test_approvals_flow import open_approvals
from tests.stack import RunningStack
from workflows import policies


async def until_event(api: httpx.AsyncClient, task_id: str, kind: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(e["type"] == kind for e in await events(api, task_id)):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} event within {timeout}s")
        await asyncio.sleep(0.1)


def test_a_dead_workers_activity_is_retried_within_five_seconds_by_design() -> None:
    """Temporal times an attempt out HEARTBEAT_TIMEOUT after the last heartbeat that reached
    it (at most HEARTBEAT_FLUSH before the kill) and schedules the retry FIRST_RETRY_AFTER
    later: at worst that long after the kill, with room left for the dispatch."""
    worst = policies.HEARTBEAT_TIMEOUT + policies.FIRST_RETRY_AFTER
    assert worst.total_seconds() <= 4
    assert HEARTBEAT_FLUSH < policies.HEARTBEAT_TIMEOUT / 2  # a late flush is not a death
    for retry in (policies.MODEL_CALL_RETRY, policies.TOOL_CALL_RETRY):
        assert retry.initial_interval == policies.FIRST_RETRY_AFTER


async def test_killing_the_worker_during_a_model_call_retries_it_on_the_other(
    stack: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("kill-model")
    marker = await stack.scripted.script(
        key,
        [
            reply_text("lost with the worker", delay_s=30),  # in flight at the kill
            reply_text("answered after the kill"),
        ],
    )
    client = await connect_temporal(stack.settings)
    async with fault_workers(stack, tmp_path) as workers, stack.api() as api:
        task = await submit(api, AGENT, f"hello {marker}")
        handle = client.get_workflow_handle(f"task-{task['id']}")
        first = await started_attempt(handle, "model_turn", 1)
        await served_at_least(stack, key, 1)  # the request is at the model when the worker dies
        kill(worker_of(workers, first))
        retry = await started_attempt(handle, "model_turn", 2)
        done = await wait_for_status(api, task["id"], timeout=60)

    assert retry.last_worker_identity != first.last_worker_identity
    assert done["status"] == "succeeded" and done["result"] == "answered after the kill"


async def test_killing_the_worker_during_a_tool_call_repeats_only_that_call(
    stack: RunningStack, tmp_path: Path
) -> None:
    """The write finished before the kill and is recorded: it is not made again; the `wait`
    in flight at the kill runs again on the other worker."""
    marker = await stack.scripted.script(
        unique_key("kill-tool"),
        [
            reply_tool_calls([("write_file", {"path": "drafts/once.txt", "content": "1"})]),
            reply_tool_calls([("wait", {"seconds": 20})]),
            reply_text("done"),
        ],
    )
    client = await connect_temporal(stack.settings)
    async with fault_workers(stack, tmp_path) as workers, stack.api() as api:
        task = await submit(api, AGENT, f"write then wait {marker}")
        handle = client.get_workflow_handle(f"task-{task['id']}")
        await until_event(api, task["id"], "tool_call")  # the write is done and recorded
        first = await started_attempt(handle, "run_tool", 1)  # so this is the wait
        kill(worker_of(workers, first))
        retry = await started_attempt(handle, "run_tool", 2)
        done = await wait_for_status(api, task["id"], timeout=90)
        log = await events(api, task["id"])
        files = (await api.get(f"/v1/tasks/{task['id']}/files")).json()

    assert retry.last_worker_identity != first.last_worker_identity
    assert done["status"] == "succeeded", done
    tools = [(e["data"]["name"], e["data"]["attempt"]) for e in log if e["type"] == "tool_call"]
    assert tools == [("write_file", 1), ("wait", 2)]  # the write once; the wait on its retry
    assert [f["path"] for f in files["items"]] == ["drafts/once.txt"]


async def test_killing_the_worker_while_a_call_waits_for_approval_loses_nothing(
    stack: RunningStack, tmp_path: Path
) -> None:
    marker = await stack.scripted.script(
        unique_key("kill-approval"),
        [
            reply_tool_calls([("write_file", {"path": "out/report.txt", "content": "r"})]),
            reply_text("saved"),
        ],
    )
    approver = await stack.create_key("approver", "fault-approver")
    async with fault_workers(stack, tmp_path) as workers, stack.api() as api:
        task = await submit(api, AGENT, f"report {marker}")
        await wait_for_status(api, task["id"], {"waiting_approval"}, timeout=60)
        for worker in workers[:1]:
            kill(worker)  # whichever held the workflow in its cache, one of them is gone
        async with stack.api(approver) as approvals:
            [pending] = await open_approvals(approvals, task["id"])
            decided = await approvals.post(
                f"/v1/approvals/{pending['id']}/decision", json={"decision": "approve"}
            )
        done = await wait_for_status(api, task["id"], timeout=60)
        written = await api.get(f"/v1/tasks/{task['id']}/files/out/report.txt")

    assert decided.status_code == 200, decided.text
    assert done["status"] == "succeeded" and done["result"] == "saved"
    assert written.text == "r"


async def test_model_server_errors_are_retried_and_the_task_completes(
    stack: RunningStack, tmp_path: Path
) -> None:
    """A 500, a cut-off JSON body and a call to a tool the agent does not have: the first two
    are retried (the model is asked again), the third is an error the model reads."""
    key = unique_key("model-faults")
    marker = await stack.scripted.script(
        key,
        [
            reply_error(500),
            reply_malformed(),
            reply_tool_calls([("rm_rf", {"path": "/"})]),
            reply_text("recovered"),
        ],
    )
    async with fault_workers(stack, tmp_path, count=1), stack.api() as api:
        task = await submit(api, AGENT, f"hi {marker}")
        done = await wait_for_status(api, task["id"], timeout=90)
        log = await events(api, task["id"])

    assert done["status"] == "succeeded" and done["result"] == "recovered", done
    [invalid] = [e["data"] for e in log if e["type"] == "tool_call"]
    assert invalid["is_error"] and "tool 'rm_rf' is not available" in invalid["result"]
    assert (await stack.scripted.status(key))["served"] == 4


async def test_a_hanging_model_server_is_given_up_on_and_asked_again(
    stack: RunningStack, tmp_path: Path
) -> None:
    """The worker's model-call timeout (AGENTRY_LLM_TIMEOUT_SECONDS, 5 s for this worker)
    ends the hung attempt; the retry gets an answer."""
    key = unique_key("model-hang")
    marker = await stack.scripted.script(
        key, [reply_text("never arrives", delay_s=120), reply_text("answered")]
    )
    async with (
        fault_workers(stack, tmp_path, count=1, AGENTRY_LLM_TIMEOUT_SECONDS="5"),
        stack.api() as api,
    ):
        task = await submit(api, AGENT, f"hi {marker}")
        done = await wait_for_status(api, task["id"], timeout=90)

    assert done["status"] == "succeeded" and done["result"] == "answered", done
    assert (await stack.scripted.status(key))["served"] == 2
