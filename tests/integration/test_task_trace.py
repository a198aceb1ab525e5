"""GET /v1/tasks/{id}/trace: a task's trajectory in one document, in step order, with the time
spent waiting for a human shown apart, and its sub-agents' traces nested."""

from __future__ import annotations

import asyncio

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import submit, wait_for_status
from tests.integration.test_approvals_flow import AGENT, open_approvals
from tests.integration.test_sub_agents import calls, delegation
from tests.stack import RunningStack


async def test_the_trace_holds_every_step_and_the_human_wait_apart(stack: RunningStack) -> None:
    marker = await stack.scripted.script(
        unique_key("trace"),
        [
            reply_tool_calls(
                [
                    ("calculator", {"expression": "6*7"}),
                    ("write_file", {"path": "out/answer.txt", "content": "42"}),
                ]
            ),
            reply_text("saved 42"),
        ],
    )
    approver_key = await stack.create_key("approver", "trace-approver")
    async with stack.api() as api, stack.api(approver_key) as approver:
        task = await submit(api, AGENT, f"compute and save {marker}")
        await wait_for_status(api, task["id"], {"waiting_approval"})
        [held] = await open_approvals(approver, task["id"])
        await asyncio.sleep(1.0)  # the human takes a moment
        await approver.post(f"/v1/approvals/{held['id']}/decision", json={"decision": "approve"})
        await wait_for_status(api, task["id"])
        trace = (await api.get(f"/v1/tasks/{task['id']}/trace")).json()
        missing = await api.get("/v1/tasks/00000000-0000-0000-0000-000000000000/trace")

    assert trace["task_id"] == task["id"] and trace["agent_id"] == AGENT
    assert trace["completion_status"] == "succeeded" and trace["iterations"] == 2
    assert [c["model"] for c in trace["llm_calls"]] == ["scripted", "scripted"]
    assert trace["llm_calls"][0]["tool_calls"] == ["calculator", "write_file"]
    assert all(c["prompt_tokens"] > 0 for c in trace["llm_calls"])
    # priced as tests/litellm-test-config.yaml says: $2 in, $8 out per million tokens
    for call in trace["llm_calls"]:
        expected = call["prompt_tokens"] * 2e-6 + call["completion_tokens"] * 8e-6
        assert abs(call["cost_usd"] - expected) < 1e-9
    assert abs(trace["cost_usd"] - sum(c["cost_usd"] for c in trace["llm_calls"])) < 1e-7
    # the free call ran while the held one waited: step order is the order they finished
    assert [(t["tool"], t["result"]) for t in trace["tool_calls"]] == [
        ("calculator", "42"),
        ("write_file", "wrote out/answer.txt (2 bytes)"),
    ]
    [approval] = trace["approvals"]
    assert approval["tool"] == "write_file" and approval["decision"] == "approve"
    assert approval["by"] == "trace-approver" and approval["waited_ms"] >= 1000
    assert trace["human_wait_ms"] == approval["waited_ms"]
    assert trace["working_ms"] == trace["total_duration_ms"] - trace["human_wait_ms"]
    assert missing.status_code == 404


async def test_a_sub_agents_trace_is_nested_under_its_parent(stack: RunningStack) -> None:
    boss, helper = unique_key("trace-boss"), unique_key("trace-helper")
    await stack.scripted.script(helper, [reply_text("seven")])
    marker = await stack.scripted.script(
        boss,
        [calls(delegation("scripted-helper", helper, "What is 3+4?")), reply_text("it is seven")],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-delegator", f"A sum, please. {marker}")
        await wait_for_status(api, task["id"])
        trace = (await api.get(f"/v1/tasks/{task['id']}/trace")).json()

    [child] = trace["children"]
    # the parent's cost holds its own calls and its sub-agent's
    own = sum(c["cost_usd"] for c in trace["llm_calls"])
    assert abs(trace["cost_usd"] - own - child["cost_usd"]) < 1e-7 and child["cost_usd"] > 0
    assert child["agent_id"] == "scripted-helper" and child["completion_status"] == "succeeded"
    assert len(child["llm_calls"]) == 1 and child["children"] == []
    [delegated] = trace["tool_calls"]
    assert delegated["tool"] == "delegate" and delegated["result"] == "seven"
    assert delegated["child_task_id"] == child["task_id"]
    assert delegated["duration_ms"] == child["total_duration_ms"] > 0
