"""GET /v1/tasks/{id}?wait=N answers as soon as the task is final (woken through Postgres
LISTEN/NOTIFY, on any gateway replica), or with the task as it is when the wait ends."""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import submit, wait_for_status
from tests.integration.test_approvals_flow import AGENT
from tests.stack import RunningStack


async def test_a_wait_ends_when_the_task_is_final(stack: RunningStack) -> None:
    marker = await stack.scripted.script(
        unique_key("wait"), [reply_text("done after a while", delay_s=2)]
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"hi {marker}")
        started = time.monotonic()
        waited = await api.get(f"/v1/tasks/{task['id']}", params={"wait": 60}, timeout=90)
        elapsed = time.monotonic() - started

    assert waited.status_code == 200
    assert waited.json()["status"] == "succeeded"
    assert waited.json()["result"] == "done after a while"
    assert elapsed < 30  # woken by the task's end, not by the end of the wait


async def test_a_wait_that_ends_first_answers_with_the_task_as_it_is(stack: RunningStack) -> None:
    marker = await stack.scripted.script(
        unique_key("wait-held"),
        [reply_tool_calls([("write_file", {"path": "out/x", "content": "x"})]), reply_text("-")],
    )
    async with stack.api() as api:
        task = await submit(api, AGENT, f"write {marker}")
        await wait_for_status(api, task["id"], {"waiting_approval"})
        waited = await api.get(f"/v1/tasks/{task['id']}", params={"wait": 1})
        too_long = await api.get(f"/v1/tasks/{task['id']}", params={"wait": 61})
        await api.post(f"/v1/tasks/{task['id']}/cancel")

    assert waited.status_code == 200 and waited.json()["status"] == "waiting_approval"
    assert too_long.status_code == 422


async def test_the_gateway_listens_for_task_news(gateway_app: FastAPI) -> None:
    await asyncio.wait_for(gateway_app.state.task_feed.listening.wait(), timeout=10)


async def test_many_waiting_requests_hold_no_database_connection(stack: RunningStack) -> None:
    """More waiters than the gateway's connection pool holds (10 + 10 overflow): other
    requests are still served at once, and every wait ends with its task."""
    marker = await stack.scripted.script(
        unique_key("wait-many"),
        [reply_tool_calls([("wait", {"seconds": 4})]), reply_text("waited")],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"wait {marker}")
        url = f"/v1/tasks/{task['id']}"
        waits = [
            asyncio.create_task(api.get(url, params={"wait": 30}, timeout=60)) for _ in range(30)
        ]
        await asyncio.sleep(1.0)  # the waits are parked
        listed = await api.get("/v1/tasks", timeout=10)  # blocked while waiters held the pool
        assert not any(wait.done() for wait in waits)  # served while they still wait
        answers = await asyncio.gather(*waits)

    assert listed.status_code == 200
    assert all(a.status_code == 200 and a.json()["status"] == "succeeded" for a in answers)
