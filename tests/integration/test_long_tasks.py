"""Long tasks on the real stack (scripted model behind LiteLLM): an input too long for its
model is refused at submit, long tool results reach the model cut, older turns are summarised
(and the prompt's prefix stays the same), a 300-iteration task and a 100-message conversation
keep working, budgets and runaway detection stop a task with the figures."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio.client import Client

from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, unique_key
from tests.fakes.scripted_model import Reply
from tests.integration.helpers import events, messages, submit, wait_for_status
from tests.stack import RunningStack

SUMMARY = reply_text("Summary: the agent added numbers; all results so far were correct.")
THRESHOLD = 1200  # tests/agents/scripted-memory.yaml
CHAT_THRESHOLD = 400  # tests/agents/scripted-long-chat.yaml


def call(name: str, arguments: dict[str, Any]) -> Reply:
    """A tool call as the text-format agents write it."""
    payload = json.dumps({"name": name, "arguments": arguments})
    return reply_text(f"<tool_call>{payload}</tool_call>")


def calc_turns(n: int) -> list[Reply]:
    return [call("calculator", {"expression": f"{i}+{i}"}) for i in range(n)]


async def test_an_input_too_long_for_the_model_is_refused_at_submit(stack: RunningStack) -> None:
    text = " ".join(f"word{i}" for i in range(6_000))  # ~40 KB: under 64 KiB, over 7168 tokens
    async with stack.api() as api:
        before = (await api.get("/v1/tasks", params={"agent": "scripted-text"})).json()
        response = await api.post("/v1/tasks", json={"agent": "scripted-text", "input": text})
        after = (await api.get("/v1/tasks", params={"agent": "scripted-text"})).json()

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["limit"] == 8192 - 1024 and problem["input_tokens"] > problem["limit"]
    assert f"{problem['input_tokens']} tokens" in problem["detail"]
    assert str(problem["limit"]) in problem["detail"]
    assert [t["id"] for t in after["items"]] == [t["id"] for t in before["items"]]


async def test_a_long_tool_result_reaches_the_model_cut_and_stays_whole(
    stack: RunningStack,
) -> None:
    key = unique_key("cut")
    content = "".join(f"line {i:04d}\n" for i in range(500))  # 5,500 characters
    marker = await stack.scripted.script(
        key,
        [
            call("write_file", {"path": "drafts/big.txt", "content": content}),
            call("read_file", {"path": "drafts/big.txt"}),
            reply_text("read it"),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-memory", f"Read the big file. {marker}")
        done = await wait_for_status(api, task["id"])
        transcript = await messages(api, task["id"])

    assert done["status"] == "succeeded", done
    stored = next(m for m in transcript if m["role"] == "tool" and m["name"] == "read_file")
    assert stored["content"] == content  # the transcript keeps it whole
    shown = json.dumps((await stack.scripted.requests(key))[-1]["messages"])
    assert content[:300].replace("\n", "\\n") in shown
    assert content[:301].replace("\n", "\\n") not in shown
    assert f"{len(content) - 300} of {len(content)} characters cut" in shown
    assert f"message {stored['id']} of /v1/tasks/{task['id']}/messages" in shown


async def test_a_300_iteration_task_summarises_and_stays_under_budget(
    stack: RunningStack,
) -> None:
    key = unique_key("long")
    marker = await stack.scripted.script(
        key, [*calc_turns(299), reply_text("all done")], {"scripted-small": SUMMARY}
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-memory", f"Add up many numbers. {marker}")
        done = await wait_for_status(api, task["id"], timeout=600)
        log = await all_events(api, task["id"])
        transcript = await messages(api, task["id"])

    assert done["status"] == "succeeded", done
    assert done["usage"]["iterations"] == 300
    memory = [e["data"] for e in log if e["type"] == "memory"]
    assert len(memory) >= 10
    assert all(m["tokens_after"] < m["tokens_before"] for m in memory)
    assert all(m["tokens_before"] > THRESHOLD for m in memory)
    summaries = [m for m in transcript if m["kind"] == "summary"]
    assert len(summaries) == len(memory)
    assert summaries[1]["summary_of"][0] == summaries[0]["id"]  # a summary of summaries
    # every prompt the agent's model got stayed under the threshold it summarises at
    prompts = [p for p in await stack.scripted.prompts(key) if p["model"] == "scripted"]
    assert len(prompts) == 300 and max(p["prompt_tokens"] for p in prompts) <= THRESHOLD
    # the system prompt (with the tools) and the task stay byte-identical in every prompt
    turns = [r for r in await stack.scripted.requests(key) if r["model"] == "scripted"]
    assert all(r["messages"][:2] == turns[0]["messages"][:2] for r in turns)

    sizes = await history_bytes_per_run(stack, task["id"])
    assert len(sizes) == 6 and max(sizes) < 2 * 1024 * 1024
    # runs of 50 iterations each: later runs are no bigger than the first (no growth)
    assert max(sizes[1:5]) <= sizes[0] * 1.25, sizes


async def all_events(api: Any, task_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        after = {"after": found[-1]["id"]} if found else {}
        page = await api.get(f"/v1/tasks/{task_id}/events", params={"limit": 1000, **after})
        items = page.json()["items"]
        if not items:
            return found
        found += items


async def history_bytes_per_run(stack: RunningStack, task_id: str) -> list[int]:
    client: Client = await connect_temporal(stack.settings)
    runs = [
        run.run_id
        async for run in client.list_workflows(f"WorkflowId = 'task-{task_id}'")
        if run.run_id
    ]
    sizes = []
    for run_id in runs:
        history = await client.get_workflow_handle(f"task-{task_id}", run_id=run_id).fetch_history()
        sizes.append(len(history.to_json().encode()))
    return list(reversed(sizes))  # oldest first


async def test_a_conversation_of_100_messages_keeps_working(stack: RunningStack) -> None:
    key = unique_key("chat")
    marker = await stack.scripted.script(
        key, [reply_text(f"answer {i}") for i in range(101)], {"scripted-small": SUMMARY}
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-long-chat", f"Let us talk. {marker}")
        await wait_for_status(api, task["id"], {"waiting_input"})
        for i in range(100):
            sent = await api.post(f"/v1/tasks/{task['id']}/messages", json={"content": f"q {i}"})
            assert sent.status_code == 202, sent.text
            await wait_until_answered(api, task["id"], f"answer {i + 1}")
        log = await events(api, task["id"])
        await api.post(f"/v1/tasks/{task['id']}/cancel")

    assert any(e["type"] == "memory" for e in log)
    prompts = [p for p in await stack.scripted.prompts(key) if p["model"] == "scripted"]
    assert len(prompts) == 101 and max(p["prompt_tokens"] for p in prompts) <= CHAT_THRESHOLD


async def wait_until_answered(api: Any, task_id: str, answer: str) -> None:
    for _ in range(600):
        task = (await api.get(f"/v1/tasks/{task_id}")).json()
        if task["status"] == "waiting_input" and task["result"] == answer:
            return
        assert task["status"] not in {"failed", "succeeded", "cancelled"}, task
        await __import__("asyncio").sleep(0.05)
    raise AssertionError(f"no {answer!r} in 30 s")


async def test_a_budget_stops_the_task_with_its_figures(stack: RunningStack) -> None:
    key = unique_key("budget")
    marker = await stack.scripted.script(key, calc_turns(3))
    async with stack.api() as api:
        task = await submit(api, "scripted-text", f"count {marker}", budgets={"max_model_calls": 2})
        assert task["budgets"]["max_model_calls"] == 2
        assert task["budgets"]["deadline_seconds"] == 7 * 86_400  # the tenant's limit
        done = await wait_for_status(api, task["id"])
        log = await events(api, task["id"])
        transcript = await messages(api, task["id"])
        refused = await api.post(
            "/v1/tasks",
            json={"agent": "scripted-text", "input": "x", "budgets": {"max_model_calls": 10**6}},
        )

    assert done["status"] == "failed" and done["error"]["code"] == "budget_exceeded"
    assert (
        "max_model_calls" in done["error"]["message"] and "limit is 2" in done["error"]["message"]
    )
    final = log[-1]["data"]
    assert final["details"] == {"budget": "max_model_calls", "limit": 2, "used": 2}
    assert len([m for m in transcript if m["role"] == "tool"]) == 2  # the partial transcript
    assert refused.status_code == 422 and refused.json()["limit"] == 500


async def test_the_same_call_again_and_again_stops_the_task(stack: RunningStack) -> None:
    key = unique_key("runaway")
    same = call("calculator", {"expression": "2+2"})
    marker = await stack.scripted.script(key, [same, same, same])
    async with stack.api() as api:
        task = await submit(api, "scripted-text", f"loop {marker}")
        done = await wait_for_status(api, task["id"])
        log = await events(api, task["id"])

    assert done["status"] == "failed" and done["error"]["code"] == "runaway_detected"
    evidence = log[-1]["data"]["details"]
    assert evidence["kind"] == "repeated_call" and evidence["turns_in_a_row"] == 3
    assert evidence["calls"] == [["calculator", {"expression": "2+2"}]]
    assert len([e for e in log if e["type"] == "tool_call"]) == 2  # the third never ran


async def test_a_model_that_repeats_a_call_is_offered_no_tools_and_its_answer_is_taken(
    stack: RunningStack,
) -> None:
    key = unique_key("answer-now")
    same = call("calculator", {"expression": "2+2"})
    marker = await stack.scripted.script(
        key, [same, same, reply_text('{"final_answer": "2+2 is 4."}')]
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-text", f"add {marker}")
        done = await wait_for_status(api, task["id"])
        transcript = await messages(api, task["id"])
    asked = await stack.scripted.requests(key)

    assert done["status"] == "succeeded" and done["result"] == "2+2 is 4."
    assert [m["role"] for m in transcript][-1] == "assistant"
    assert transcript[-1]["content"] == "2+2 is 4."
    # the first two turns offered the tools; the third none, its decoding held to an answer
    assert all("<tools>" in r["messages"][0]["content"] for r in asked[:2])
    assert "<tools>" not in asked[2]["messages"][0]["content"]
    schema = asked[2]["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["final_answer"]
    assert "already have this result" in asked[2]["messages"][-1]["content"]


async def answer_then_follow_up(
    stack: RunningStack, request: str, answer: str, follow_up: str
) -> dict[str, Any]:
    """A scripted-chat task (the conversation stays open 4 s after each answer): the request,
    then the follow-up once the task has answered; the task once it has finished."""
    async with stack.api() as api:
        task = await submit(api, "scripted-chat", request)
        for _ in range(300):
            if (await api.get(f"/v1/tasks/{task['id']}")).json().get("result") == answer:
                break
            await asyncio.sleep(0.05)
        await api.post(f"/v1/tasks/{task['id']}/messages", json={"content": follow_up})
        return await wait_for_status(api, task["id"])


async def test_after_the_answer_turn_a_follow_up_is_offered_the_tools_again(
    stack: RunningStack,
) -> None:
    key = unique_key("answer-now-chat")
    same = call("calculator", {"expression": "2+2"})
    marker = await stack.scripted.script(
        key,
        [same, same, reply_text("4"), call("calculator", {"expression": "3+3"}), reply_text("6")],
    )
    done = await answer_then_follow_up(stack, f"add {marker}", "4", "and 3+3?")
    asked = await stack.scripted.requests(key)

    assert done["status"] == "succeeded" and done["result"] == "6"
    assert "tools" not in asked[2]  # the answer turn
    assert all("tools" in r for r in asked[3:])  # the follow-up's turns: tools again


async def test_a_follow_up_that_needs_the_answered_call_again_is_no_repeat(
    stack: RunningStack,
) -> None:
    """The time, asked again later in a conversation: the same call, and still the tools."""
    key = unique_key("repeat-after-answer")
    same = call("calculator", {"expression": "2+2"})
    marker = await stack.scripted.script(key, [same, reply_text("4"), same, reply_text("4 again")])
    done = await answer_then_follow_up(stack, f"add {marker}", "4", "once more?")
    asked = await stack.scripted.requests(key)

    assert done["status"] == "succeeded" and done["result"] == "4 again"
    assert len(asked) == 4 and all("tools" in r for r in asked)  # no answer-only turn


async def test_a_cost_budget_stops_the_task_before_the_call_that_would_pass_it(
    stack: RunningStack,
) -> None:
    """Priced at $2 in and $8 out per million tokens (tests/litellm-test-config.yaml), each turn
    here costs a few hundredths of a cent: a budget of one turn's worth lets one call run."""
    key = unique_key("cost-budget")
    marker = await stack.scripted.script(key, calc_turns(3))
    async with stack.api() as api:
        task = await submit(api, "scripted-text", f"count {marker}", budgets={"max_cost_usd": 1e-6})
        done = await wait_for_status(api, task["id"])
        log = await events(api, task["id"])

    assert task["budgets"]["max_cost_usd"] == 1e-6
    assert done["status"] == "failed" and done["error"]["code"] == "budget_exceeded"
    details = log[-1]["data"]["details"]
    assert details["budget"] == "max_cost_usd" and details["limit"] == 1e-6
    assert details["used"] == round(done["usage"]["cost_usd"], 6) > 1e-6
    assert done["usage"]["llm_calls"] == 1  # the first call spent it; no second was bought
