"""The agent loop through the whole stack: gateway → Temporal → worker → LiteLLM → scripted
model, with every step in Postgres. Each test owns a script key, so they can share the stack."""

from __future__ import annotations

import json

import pytest

from tests.fakes.script_client import (
    reply_error,
    reply_text,
    reply_tool_calls,
    unique_key,
)
from tests.integration.helpers import events, messages, served_at_least, submit, wait_for_status
from tests.stack import RunningStack


async def test_text_tool_call_runs_the_tool_and_the_model_sees_the_result(
    stack: RunningStack,
) -> None:
    key = unique_key("text")
    marker = await stack.scripted.script(
        key,
        [
            reply_text(
                '<tool_call>{"name": "calculator", "arguments": {"expression": "6*7"}}</tool_call>',
                prompt_tokens=50,
                completion_tokens=12,
            ),
            reply_text("The answer is 42.", prompt_tokens=70, completion_tokens=6),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-text", f"What is 6*7? {marker}")
        assert task["status"] in {"queued", "running"}
        done = await wait_for_status(api, task["id"])
        log = await events(api, task["id"])
        transcript = await messages(api, task["id"])

    assert done["status"] == "succeeded", done
    assert done["result"] == "The answer is 42."
    assert done["usage"]["llm_calls"] == 2 and done["usage"]["tool_calls"] == 1
    assert done["usage"]["prompt_tokens"] == 120
    assert done["usage"]["completion_tokens"] == 18
    assert done["started_at"] and done["finished_at"]

    kinds = [(e["type"], e["data"].get("status") or e["data"].get("name")) for e in log]
    assert kinds == [
        ("status", "queued"),
        ("status", "running"),
        ("llm_call", None),
        ("tool_call", "calculator"),
        ("llm_call", None),
        ("status", "succeeded"),
    ]
    tool_event = log[3]["data"]
    assert tool_event["arguments"] == {"expression": "6*7"}
    assert tool_event["result"] == "42" and tool_event["is_error"] is False
    assert log[2]["data"]["model"] == "scripted" and log[2]["data"]["prompt_tokens"] == 50
    assert "duration_ms" in log[2]["data"] and "duration_ms" in tool_event

    assert [m["role"] for m in transcript] == ["system", "user", "assistant", "tool", "assistant"]
    # the second model call was shown the tool's result
    second = (await stack.scripted.requests(key))[1]
    assert "42" in json.dumps(second["messages"][-1])


async def test_native_calls_of_one_turn_all_run_and_errors_go_back_to_the_model(
    stack: RunningStack,
) -> None:
    key = unique_key("native")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls(
                [
                    ("calculator", {"expression": "2**10"}),
                    ("calculator", {"expression": "1/0"}),
                    ("no_such_tool", {}),
                ]
            ),
            reply_text("1024, and the rest failed."),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"go {marker}")
        done = await wait_for_status(api, task["id"])
        transcript = await messages(api, task["id"])

    assert done["status"] == "succeeded", done
    assert done["usage"]["tool_calls"] == 3
    # concurrent calls finish in any order; the transcript lists them as they finished
    results = sorted((m["content"] for m in transcript if m["role"] == "tool"), key=len)
    assert results[0] == "1024"
    assert any("division by zero" in r.lower() for r in results)
    assert any("no_such_tool" in r and "calculator" in r for r in results)
    second = (await stack.scripted.requests(key))[1]
    tool_msgs = [m for m in second["messages"] if m["role"] == "tool"]
    [asked] = [m for m in second["messages"] if m["role"] == "assistant"]
    # the model is shown the results in the order it made the calls
    assert [m["tool_call_id"] for m in tool_msgs] == [c["id"] for c in asked["tool_calls"]]
    assert second.get("tools"), "native agents offer tools through the API"


async def test_json_schema_agent_asks_for_a_constrained_action(stack: RunningStack) -> None:
    key = unique_key("json")
    marker = await stack.scripted.script(
        key,
        [
            reply_text(
                json.dumps(
                    {"tool_calls": [{"name": "calculator", "arguments": {"expression": "10-3"}}]}
                )
            ),
            reply_text(json.dumps({"final_answer": "seven"})),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-json-schema", f"go {marker}")
        done = await wait_for_status(api, task["id"])

    assert done["status"] == "succeeded", done
    assert done["result"] == "seven"
    first = (await stack.scripted.requests(key))[0]
    assert first["response_format"]["type"] == "json_schema"


async def test_max_iterations_fails_the_task_and_keeps_the_partial_transcript(
    stack: RunningStack,
) -> None:
    key = unique_key("loop")
    marker = await stack.scripted.script(
        key, [reply_tool_calls([("calculator", {"expression": f"{i}+1"})]) for i in range(4)]
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"loop {marker}")
        done = await wait_for_status(api, task["id"])
        transcript = await messages(api, task["id"])

    assert done["status"] == "failed"
    assert done["error"]["code"] == "max_iterations"
    assert "4 iterations" in done["error"]["message"]
    assert done["usage"]["llm_calls"] == 4 and done["usage"]["tool_calls"] == 4
    assert len([m for m in transcript if m["role"] == "tool"]) == 4


async def test_a_model_error_that_persists_fails_the_task_with_the_reason(
    stack: RunningStack,
) -> None:
    key = unique_key("reject")
    marker = await stack.scripted.script(key, [reply_error(400)])
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"bad {marker}")
        done = await wait_for_status(api, task["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "step_failed"
    assert "rejected" in done["error"]["message"]


async def test_cancel_stops_a_running_task_and_records_the_reason(stack: RunningStack) -> None:
    key = unique_key("cancel")
    marker = await stack.scripted.script(key, [reply_text("too late", delay_s=60)])
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"slow {marker}")
        await wait_for_status(api, task["id"], {"running"})
        await served_at_least(stack, key, 1)
        response = await api.post(
            f"/v1/tasks/{task['id']}/cancel", json={"reason": "changed my mind"}
        )
        assert response.status_code in (200, 202), response.text
        done = await wait_for_status(api, task["id"])
        again = await api.post(f"/v1/tasks/{task['id']}/cancel", json={})
        log = await events(api, task["id"])

    assert done["status"] == "cancelled"
    assert done["cancel_reason"] == "changed my mind"
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert log[-1]["data"] == {"status": "cancelled", "reason": "changed my mind"}


@pytest.mark.parametrize("agent", ["nobody"])
async def test_unknown_agent_is_refused_and_nothing_runs(stack: RunningStack, agent: str) -> None:
    async with stack.api() as api:
        response = await api.post("/v1/tasks", json={"agent": agent, "input": "hi"})
        listed = await api.get("/v1/tasks", params={"agent": agent})
    assert response.status_code == 422
    assert "assistant" in response.text  # names what exists
    assert listed.json()["items"] == []


async def test_an_idempotent_tools_call_made_again_reuses_its_first_result(
    stack: RunningStack,
) -> None:
    """calculator is idempotent: the same expression later in the task is not computed again;
    a call that failed, or with other arguments, runs."""
    key = unique_key("idempotent")
    first = [("calculator", {"expression": "2**10"}), ("calculator", {"expression": "1/0"})]
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls(first),
            reply_tool_calls([*first, ("calculator", {"expression": "2**11"})]),
            reply_text("1024 and 2048."),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"go {marker}")
        done = await wait_for_status(api, task["id"])
        log = await events(api, task["id"])

    assert done["status"] == "succeeded", done
    calls = [e["data"] for e in log if e["type"] == "tool_call"]
    later = {c["arguments"]["expression"]: c for c in calls if c["iteration"] == 1}
    assert later["2**10"]["result"] == "1024" and later["2**10"].get("cached") is True
    assert "cached" not in later["1/0"] and later["1/0"]["is_error"] is True
    assert "cached" not in later["2**11"] and later["2**11"]["result"] == "2048"
    assert not any(c.get("cached") for c in calls if c["iteration"] == 0)
