"""Worker pools on the whole stack: a pool's tasks run only on that pool's workers; operators
scale a pool through the API or `agentry scale` and the supervisor starts or drains workers to
match; a drained worker finishes its in-flight tool call before exiting, so the task completes
on a later worker and nothing runs twice."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import httpx
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import WorkflowHandle

from services.devstack.processes import Child
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import activity_attempts, events, submit, wait_for_status
from tests.stack import RunningStack


async def test_a_pools_task_waits_for_that_pools_workers_until_the_pool_is_scaled_up(
    stack: RunningStack,
) -> None:
    key = unique_key("pool")
    marker = await stack.scripted.script(key, [reply_text("done on pool isolated")])
    async with stack.api() as api, stack.api(await platform_key(stack)) as platform:
        task = await submit(api, "scripted-isolated", f"hello {marker}")
        await asyncio.sleep(3)  # pool isolated wants 0 workers (its min_replicas)
        waiting = (await api.get(f"/v1/tasks/{task['id']}")).json()
        assert waiting["status"] == "queued", waiting
        assert (await stack.scripted.status(key))["served"] == 0
        pools = await _until_backlog(platform, "isolated")
        assert pools["isolated"]["workers_polling"] == 0
        assert pools["isolated"]["replicas"]["desired"] == 0
        assert pools["isolated"]["backlog"]["workflow_tasks"]["count"] >= 1
        assert pools["isolated"]["backlog"]["workflow_tasks"]["oldest_age_seconds"] > 0
        assert "scripted-isolated" in pools["isolated"]["agents"]
        assert pools["default"]["workers_polling"] >= 1
        table = await _agentry("pools", stack=stack)
        [isolated_row] = [
            line.split() for line in table.splitlines() if line.startswith("isolated")
        ]
        assert isolated_row[-7] == "0" and isolated_row[-3:] == ["2/2/1", "0-2", "0"], table

        try:
            scaled = await platform.put("/v1/pools/isolated/replicas", json={"replicas": 1})
            assert scaled.status_code == 200, scaled.text
            assert scaled.json()["replicas"]["desired"] == 1
            done = await wait_for_status(api, task["id"], timeout=60)
            assert stack.stack.fleet is not None
            [worker] = stack.stack.fleet.workers("isolated")
        finally:
            await platform.put("/v1/pools/isolated/replicas", json={"replicas": 0})
        assert (await _pools(platform))["isolated"]["replicas"]["set_by"] == "platform-ops"
    assert done["status"] == "succeeded", done
    assert done["result"] == "done on pool isolated"
    await _until_exited(worker)
    assert worker.process is not None and worker.process.returncode == 0, worker.log_tail()


async def test_scaling_down_drains_the_running_tool_call_and_scaling_up_finishes_the_task(
    stack: RunningStack,
) -> None:
    key = unique_key("drain")
    marker = await stack.scripted.script(
        key, [reply_tool_calls([("wait", {"seconds": 4})]), reply_text("done waiting")]
    )
    fleet = stack.stack.fleet
    assert fleet is not None
    client = await connect_temporal(stack.settings)
    async with stack.api() as api, stack.api(await platform_key(stack)) as platform:
        try:
            await _scale(platform, "isolated", 1)
            task = await submit(api, "scripted-isolated", f"wait a bit {marker}")
            handle = client.get_workflow_handle(f"task-{task['id']}")
            await _until_tool_runs(handle)
            [worker] = fleet.workers("isolated")

            await _scale(platform, "isolated", 0)  # what an operator's scale-down does
            scaled_down = time.monotonic()
            await _until_exited(worker)
            drained_after = time.monotonic() - scaled_down
            # the worker waited for the tool instead of abandoning it
            log = await events(api, task["id"])
            assert [e["data"]["name"] for e in log if e["type"] == "tool_call"] == ["wait"]
            assert worker.process is not None and worker.process.returncode == 0
            assert drained_after > 1, drained_after
            assert fleet.workers("isolated") == []

            await _scale(platform, "isolated", 1)  # a new worker takes the task's next steps
            done = await wait_for_status(api, task["id"], timeout=60)
            log = await events(api, task["id"])
        finally:
            await _scale(platform, "isolated", 0)

    assert done["status"] == "succeeded", done
    assert done["result"] == "done waiting"
    [tool] = [e for e in log if e["type"] == "tool_call"]
    assert tool["data"]["attempt"] == 1 and tool["data"]["result"].startswith("waited 4")
    assert activity_attempts(await handle.fetch_history(), "run_tool") == [1]


async def test_scaling_is_for_platform_operators_within_the_pools_bounds(
    stack: RunningStack,
) -> None:
    submitter = await stack.create_key("submitter", "scale-submitter")
    operator = await platform_key(stack)
    async with stack.api(operator) as api:
        unknown = await api.put("/v1/pools/nope/replicas", json={"replicas": 1})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert "nope" in unknown.json()["detail"] and "isolated" in unknown.json()["pools"]

        too_many = await api.put("/v1/pools/isolated/replicas", json={"replicas": 3})
        assert too_many.status_code == 422, too_many.text
        assert too_many.json()["min_replicas"] == 0 and too_many.json()["max_replicas"] == 2
        assert "0 to 2" in too_many.json()["detail"]

        for bad in ({"replicas": -1}, {"replicas": "two"}, {}, {"replicas": 1, "extra": 1}):
            response = await api.put("/v1/pools/isolated/replicas", json=bad)
            assert response.status_code == 422, (bad, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        assert (await _pools(api))["isolated"]["replicas"]["desired"] == 0  # nothing changed

    async with stack.api(submitter) as api:
        refused = await api.put("/v1/pools/isolated/replicas", json={"replicas": 1})
        assert refused.status_code == 403 and "platform-operator" in refused.json()["detail"]
    tenant_admin = await stack.create_key("admin", "tenant-admin")
    async with stack.api(tenant_admin) as api:  # a tenant's admin does not run the platform
        assert (
            await api.put("/v1/pools/isolated/replicas", json={"replicas": 1})
        ).status_code == 403
        assert (await api.get("/v1/pools")).status_code == 403

    out = await _agentry("scale", "isolated=3", stack=stack, expect_code=2)
    assert "0 to 2" in out
    out = await _agentry("scale", "isolated", stack=stack, expect_code=2)
    assert "NAME=N" in out
    try:
        out = await _agentry("scale", "isolated=1", stack=stack)
        assert out.strip() == "isolated: 1 replica(s)"
        async with stack.api(operator) as api:
            assert (await _pools(api))["isolated"]["replicas"]["set_by"] == "cli"
        fleet = stack.stack.fleet
        assert fleet is not None
        deadline = time.monotonic() + 30
        while len(fleet.workers("isolated")) != 1:
            assert time.monotonic() < deadline, "the supervisor never started the worker"
            await asyncio.sleep(0.2)
    finally:
        await _agentry("scale", "isolated=0", stack=stack)


async def platform_key(stack: RunningStack) -> str:
    return await stack.create_key("platform-operator", "platform-ops", tenant="platform")


async def _until_backlog(api: httpx.AsyncClient, pool: str, timeout: float = 30) -> dict[str, Any]:
    """The pools once `pool` shows a backlog with its age: Temporal's task-queue stats are
    approximate and cached for a few seconds (the gateway's pool sampler asks for them too),
    and a first sighting of the count may still carry an age of 0."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pools = await _pools(api)
        backlog = pools[pool]["backlog"]["workflow_tasks"]
        shown = backlog["count"] and backlog["oldest_age_seconds"]
        if shown or asyncio.get_running_loop().time() > deadline:
            return pools
        await asyncio.sleep(1)


async def _pools(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/v1/pools")
    assert response.status_code == 200, response.text
    return {pool["name"]: pool for pool in response.json()["items"]}


async def _scale(api: httpx.AsyncClient, pool: str, replicas: int) -> None:
    response = await api.put(f"/v1/pools/{pool}/replicas", json={"replicas": replicas})
    assert response.status_code == 200, response.text


async def _until_exited(worker: Child, timeout: float = 60) -> None:
    assert worker.process is not None
    await asyncio.wait_for(worker.process.wait(), timeout)


async def _agentry(*args: str, stack: RunningStack, expect_code: int = 0) -> str:
    """What `agentry ARGS` prints (stdout, or stderr when it fails) for this stack."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        env={**os.environ, **stack.settings.as_env()},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == expect_code, err.decode()
    return (out if expect_code == 0 else err).decode()


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
