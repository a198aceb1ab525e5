"""GET /v1/usage: a tenant's tasks, model calls, tokens, cost, tool calls and human wait, per
agent, model, day or tenant; a platform operator sees every tenant."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import submit, wait_for_status
from tests.integration.test_approvals_flow import open_approvals
from tests.stack import RunningStack


async def usage(api: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    answer = await api.get("/v1/usage", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_usage_by_agent_model_day_and_tenant(stack: RunningStack) -> None:
    tenant, other = f"usage-{uuid.uuid4().hex[:6]}", f"usage-other-{uuid.uuid4().hex[:6]}"
    key = await stack.create_key("admin", "usage", tenant=tenant)
    other_key = await stack.create_key("admin", "usage-other", tenant=other)
    operator = await stack.create_key("platform-operator", "usage-ops", tenant="platform")
    computed = await stack.scripted.script(
        unique_key("usage-calc"),
        [reply_tool_calls([("calculator", {"expression": "1+1"})]), reply_text("2")],
    )
    held = await stack.scripted.script(
        unique_key("usage-held"),
        [reply_tool_calls([("write_file", {"path": "out/u", "content": "u"})]), reply_text("ok")],
    )
    elsewhere = await stack.scripted.script(unique_key("usage-other"), [reply_text("hi")])
    async with stack.api(key) as api, stack.api(other_key) as other_api:
        first = await submit(api, "scripted-native", f"add {computed}")
        second = await submit(api, "scripted-approvals", f"write {held}")
        third = await submit(other_api, "scripted-native", f"greet {elsewhere}")
        await wait_for_status(api, second["id"], {"waiting_approval"})
        [approval] = await open_approvals(api, second["id"])
        await asyncio.sleep(0.5)
        await api.post(f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"})
        tasks = [await wait_for_status(api, t["id"]) for t in (first, second)]
        await wait_for_status(other_api, third["id"])

        by_agent = await usage(api, group_by="agent")
        by_model = await usage(api, group_by="model")
        by_day = await usage(api, group_by="day")
        own_tenant = await usage(api, group_by="tenant")
        backwards = await api.get("/v1/usage", params={"from": "2026-12-02", "to": "2026-12-01"})
        unknown = await api.get("/v1/usage", params={"group_by": "colour"})
    async with stack.api(operator) as ops:
        all_tenants = await usage(ops, group_by="tenant")

    agents = {row["key"]: row for row in by_agent["items"]}
    assert set(agents) == {"scripted-native", "scripted-approvals"}
    assert agents["scripted-native"]["tasks"] == 1 and agents["scripted-native"]["tool_calls"] == 1
    assert agents["scripted-approvals"]["human_wait_ms"] >= 500
    assert agents["scripted-native"]["human_wait_ms"] == 0
    spent = sum(t["usage"]["cost_usd"] for t in tasks)
    assert spent > 0 and abs(by_agent["total_cost_usd"] - spent) < 1e-7
    [model] = by_model["items"]
    assert model["key"] == "scripted" and model["model_calls"] == 4 and model["tasks"] == 2
    assert abs(model["cost_usd"] - spent) < 1e-7
    [day] = by_day["items"]
    assert day["tasks"] == 2 and day["model_calls"] == 4
    assert [row["key"] for row in own_tenant["items"]] == [tenant]
    assert {tenant, other} <= {row["key"] for row in all_tenants["items"]}
    assert backwards.status_code == 422 and unknown.status_code == 422


async def test_a_completed_task_costs_what_every_task_cost_over_those_that_succeeded(
    stack: RunningStack,
) -> None:
    key = await stack.create_key("admin", "usage-per-task", tenant=f"usage-{uuid.uuid4().hex[:6]}")
    answered = await stack.scripted.script(unique_key("usage-ok"), [reply_text("done")])
    held = await stack.scripted.script(
        unique_key("usage-cancelled"),
        [reply_tool_calls([("write_file", {"path": "out/c", "content": "c"})]), reply_text("ok")],
    )
    async with stack.api(key) as api:
        done = await submit(api, "scripted-approvals", f"answer {answered}")
        dropped = await submit(api, "scripted-approvals", f"write {held}")
        await wait_for_status(api, dropped["id"], {"waiting_approval"})
        cancelled = await api.post(f"/v1/tasks/{dropped['id']}/cancel")
        assert cancelled.status_code in (200, 202), cancelled.text
        tasks = [await wait_for_status(api, t["id"]) for t in (done, dropped)]
        by_agent = await usage(api, group_by="agent")
        by_model = await usage(api, group_by="model")

    assert [t["status"] for t in tasks] == ["succeeded", "cancelled"]
    [agent] = by_agent["items"]
    spent = sum(t["usage"]["cost_usd"] for t in tasks)
    assert tasks[1]["usage"]["cost_usd"] > 0  # the cancelled task's model call cost too
    assert agent["tasks"] == 2 and agent["tasks_succeeded"] == 1
    assert abs(agent["cost_per_succeeded_task_usd"] - spent) < 1e-9
    [model] = by_model["items"]
    assert model["tasks_succeeded"] == 0 and model["cost_per_succeeded_task_usd"] is None
