"""Langfuse export: a worker with Langfuse settings sends each task as one trace, through the
Langfuse SDK, to a local stand-in for Langfuse's OTLP endpoint (tests/fakes/otlp_receiver.py);
the test reads what arrived: a generation per model call, a span per tool call, the approval
wait, the summary, and the sub-agent's observations nested under the delegating call."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langfuse import Langfuse

from activities.langfuse_export.ids import (
    delegation_observation_id,
    observation_id,
    task_observation_id,
)
from services.devstack.processes import Child, ChildSpec, wait_until
from tests.fakes.script_client import reply_text, unique_key
from tests.integration.helpers import submit, wait_for_status, worker_process
from tests.integration.test_approvals_flow import open_approvals
from tests.integration.test_sub_agents import calls, delegation
from tests.stack import RunningStack, free_port

AGENT, HELPER = "scripted-traced", "scripted-traced-helper"  # tests/agents/, pool traced
PUBLIC_KEY, SECRET_KEY = "pk-lf-agentry-test", "sk-lf-agentry-test-0123456789"
SUMMARY = "Summary: 6*7 is 42, saved to out/answer.txt."

Spans = dict[str, dict[str, Any]]


@pytest.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "tests.fakes.otlp_receiver", "--port", str(port)]
    child = Child(ChildSpec(name="otlp-receiver", argv=argv, log_file=tmp_path / "otlp.log"))
    await child.start()
    url = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{url}/health")).status_code == 200

    try:
        await wait_until(up, "otlp receiver", 30, child)
        yield url
    finally:
        await child.stop()


async def test_a_task_arrives_as_one_langfuse_trace(
    stack: RunningStack, receiver: str, tmp_path: Path
) -> None:
    worker = worker_process(
        stack,
        "traced",
        "langfuse-worker",
        tmp_path,
        LANGFUSE_PUBLIC_KEY=PUBLIC_KEY,
        LANGFUSE_SECRET_KEY=SECRET_KEY,
        LANGFUSE_HOST=receiver,
        AGENTRY_LANGFUSE_FLUSH_SECONDS="0.5",
    )
    boss, helper = unique_key("lf-boss"), unique_key("lf-helper")
    await stack.scripted.script(helper, [calls(("calculator", {"expression": "3+4"})),
                                         reply_text("seven")])  # fmt: skip
    marker = await stack.scripted.script(
        boss,
        [
            calls(
                ("calculator", {"expression": "6*7"}),
                ("write_file", {"path": "out/answer.txt", "content": "42"}),
            ),
            calls(delegation(HELPER, helper, "What is 3+4?")),
            reply_text("42, saved; and 3+4 is seven"),
        ],
        {"scripted-small": reply_text(SUMMARY)},
    )
    approver_key = await stack.create_key("approver", "lf-approver")
    await worker.start()
    try:
        async with stack.api() as api, stack.api(approver_key) as approver:
            task = await submit(api, AGENT, f"Compute, save and delegate. {marker}")
            await wait_for_status(api, task["id"], {"waiting_approval"})
            [held] = await open_approvals(approver, task["id"])
            decided = await approver.post(
                f"/v1/approvals/{held['id']}/decision", json={"decision": "approve"}
            )
            assert decided.status_code == 200, decided.text
            done = await wait_for_status(api, task["id"])
            trace = (await api.get(f"/v1/tasks/{task['id']}/trace")).json()
    finally:
        await worker.stop()  # drains and flushes the exporter
    assert done["status"] == "succeeded", worker.log_tail()
    async with httpx.AsyncClient(base_url=receiver) as http:
        received = (await http.get("/_spans")).json()
        raw = b"".join(bytes.fromhex(body) for body in (await http.get("/_raw")).json())

    task_id = task["id"]
    [child] = trace["children"]
    child_id = child["task_id"]
    # one trace for the task and its sub-agent, its id derived from the task's
    assert {span["trace_id"] for span in received} == {Langfuse.create_trace_id(seed=task_id)}
    basic = base64.b64encode(f"{PUBLIC_KEY}:{SECRET_KEY}".encode()).decode()
    assert {span["authorization"] for span in received} == {f"Basic {basic}"}
    spans = {span["span_id"]: span for span in received}
    assert len(spans) == len(received)  # each observation sent once
    # the trace's attributes on every observation (Langfuse v4 reads them from each)
    assert {_attr(span, "langfuse.trace.name") for span in received} == {AGENT}
    assert {_attr(span, "langfuse.trace.metadata.task_id") for span in received} == {
        json.dumps(task_id)
    }

    root = spans[task_observation_id(task_id)]
    assert root["parent_span_id"] is None
    assert _attr(root, "langfuse.trace.name") == AGENT
    assert _attr(root, "langfuse.observation.type") == "agent"
    assert _text(root, "input") == f"Compute, save and delegate. {marker}"
    assert _text(root, "output") == "42, saved; and 3+4 is seven"

    # a generation per model call, with the prompt, the reply, tokens and cost
    generations = _children(spans, root, "generation")
    turns = [g for g in generations if g["name"].startswith("model turn")]
    assert [g["name"] for g in turns] == ["model turn 0", "model turn 1", "model turn 2"]
    assert len(turns) == len(trace["llm_calls"])
    for generation, call in zip(turns, trace["llm_calls"], strict=True):
        assert _attr(generation, "langfuse.observation.model.name") == "scripted"
        usage = json.loads(_attr(generation, "langfuse.observation.usage_details"))
        assert usage["input"] == call["prompt_tokens"] > 0
        assert usage["output"] == call["completion_tokens"] > 0
        cost = json.loads(_attr(generation, "langfuse.observation.cost_details"))
        assert cost["total"] == pytest.approx(call["cost_usd"]) and cost["total"] > 0
    first_prompt = _json(turns[0], "input")
    assert [m["role"] for m in first_prompt] == ["system", "user"]
    assert marker in first_prompt[-1]["content"]
    assert "calculator" in _json(turns[0], "output")["content"]
    assert _json(turns[2], "output") == {
        "role": "assistant",
        "content": "42, saved; and 3+4 is seven",
    }

    # the summary before the last turn: the summariser's generation
    [summary] = [g for g in generations if g["name"] == "summary"]
    assert _attr(summary, "langfuse.observation.model.name") == "scripted-small"
    assert SUMMARY in _text(summary, "output")
    assert summary["span_id"] == observation_id(task_id, "summary:2")

    # a span per tool call, with its arguments and result
    tools = {s["name"]: s for s in _children(spans, root, "tool")}
    assert set(tools) == {"calculator", "write_file"}
    assert _json(tools["calculator"], "input") == {"expression": "6*7"}
    assert _text(tools["calculator"], "output") == "42"
    assert _json(tools["write_file"], "input") == {"path": "out/answer.txt", "content": "42"}
    assert _text(tools["write_file"], "output") == "wrote out/answer.txt (2 bytes)"

    # the wait for a human, with the decision and who made it
    [waited] = _children(spans, root, "span")
    assert waited["name"] == "approval write_file"
    assert _json(waited, "output")["decision"] == "approve"
    assert _json(waited, "output")["by"] == "lf-approver"
    assert _json(waited, "input")["arguments"] == {"path": "out/answer.txt", "content": "42"}

    # the sub-agent: its task span under the delegating call, its steps under its task span
    delegated = spans[delegation_observation_id(child_id)]
    assert delegated["parent_span_id"] == root["span_id"]
    assert delegated["name"] == f"delegate {HELPER}" and _text(delegated, "output") == "seven"
    child_root = spans[task_observation_id(child_id)]
    assert child_root["parent_span_id"] == delegated["span_id"]
    assert _text(child_root, "output") == "seven"
    child_turns = _children(spans, child_root, "generation")
    assert len(child_turns) == len(child["llm_calls"]) == 2
    [child_tool] = _children(spans, child_root, "tool")
    assert _json(child_tool, "input") == {"expression": "3+4"}
    assert _text(child_tool, "output") == "7"

    # nothing else, and no secret in what was sent
    assert len(spans) == 1 + 3 + 1 + 2 + 1 + 1 + 1 + 2 + 1
    for secret in (SECRET_KEY, stack.settings.litellm_key.get_secret_value(), approver_key):
        assert secret.encode() not in raw
    assert SECRET_KEY not in (tmp_path / "langfuse-worker.log").read_text()


def _children(spans: Spans, parent: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    found = [
        span
        for span in spans.values()
        if span["parent_span_id"] == parent["span_id"]
        and _attr(span, "langfuse.observation.type") == kind
    ]
    return sorted(found, key=lambda span: span["start_ns"])


def _attr(span: dict[str, Any], key: str) -> Any:
    return span["attributes"].get(key)


def _text(span: dict[str, Any], field: str) -> str:
    """A string input or output (the SDK sends strings as they are)."""
    text: str = span["attributes"][f"langfuse.observation.{field}"]
    return text


def _json(span: dict[str, Any], field: str) -> Any:
    """Any other input or output (sent as JSON)."""
    return json.loads(_text(span, field))
