"""Shadow runs on the real stack: a task of scripted-shadowed (share 1.0) also runs on
scripted-shadow; the shadow's write_file is dry-run while the live one's writes, the pair's
comparison is in GET /v1/agents/scripted-shadowed/shadow, the shadow is readable by id but not
listed; a spec naming a bad shadow stops the gateway with an error naming file and field."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import gateway_refusal, messages, submit, wait_for_status
from tests.stack import RunningStack

SHADOW_KEY = "shadow-of-scripted-shadowed"  # in scripted-shadow's system prompt


async def comparison_of(api: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = await api.get("/v1/agents/scripted-shadowed/shadow", params={"limit": 100})
        assert response.status_code == 200, response.text
        found = [c for c in response.json()["items"] if c["live_task_id"] == task_id]
        if found:
            return found[0]
        assert time.monotonic() < deadline, "the pair was never compared"
        await asyncio.sleep(0.2)


async def test_a_shadowed_task_runs_twice_and_only_the_live_run_writes(
    stack: RunningStack,
) -> None:
    def write(content: str) -> Any:
        return reply_tool_calls([("write_file", {"path": "notes.txt", "content": content})])

    marker = await stack.scripted.script(
        unique_key("live"), [write("live"), reply_text("Saved  the notes.\n")]
    )
    await stack.scripted.script(SHADOW_KEY, [write("shadow"), reply_text("Saved the notes.")])
    async with stack.api() as api:
        task = await submit(api, "scripted-shadowed", f"Save the notes. {marker}")
        done = await wait_for_status(api, task["id"])
        comparison = await comparison_of(api, task["id"])
        shadow_id = comparison["shadow_task_id"]
        shadow = await wait_for_status(api, shadow_id)  # readable by id
        live_files = (await api.get(f"/v1/tasks/{task['id']}/files")).json()["items"]
        shadow_files = (await api.get(f"/v1/tasks/{shadow_id}/files")).json()["items"]
        shadow_transcript = await messages(api, shadow_id)
        listed = (await api.get("/v1/tasks", params={"limit": 100})).json()["items"]
        of_shadow = (await api.get("/v1/tasks", params={"agent": "scripted-shadow"})).json()
        summary = (await api.get("/v1/agents/scripted-shadowed/shadow")).json()

    assert done["status"] == "succeeded" and shadow["status"] == "succeeded"
    assert shadow["agent"] == "scripted-shadow"
    assert [f["path"] for f in live_files] == ["notes.txt"]
    assert shadow_files == []  # the shadow's write_file did not write
    results = [m["content"] for m in shadow_transcript if m["role"] == "tool"]
    assert len(results) == 1 and results[0].startswith("[dry run] write_file was not run")

    assert comparison["same_answer"] and comparison["same_tools"]
    assert comparison["live"]["tools"] == comparison["shadow"]["tools"] == ["write_file"]
    assert comparison["live"]["model_calls"] == comparison["shadow"]["model_calls"] == 2
    assert comparison["live"]["status"] == comparison["shadow"]["status"] == "succeeded"
    assert comparison["live"]["tokens"] > 0 and comparison["live"]["duration_ms"] is not None

    assert summary["shadow_agent"] == "scripted-shadow" and summary["share"] == 1.0
    assert summary["compared"] >= 1 and summary["same_answer"] >= 1
    assert summary["mean_model_calls"]["shadow"] is not None
    assert shadow_id not in {t["id"] for t in listed} and task["id"] in {t["id"] for t in listed}
    assert of_shadow["items"] == []


async def test_the_shadow_summary_of_an_unknown_agent_is_a_404(stack: RunningStack) -> None:
    async with stack.api() as api:
        response = await api.get("/v1/agents/nobody/shadow")
        cursor = await api.get("/v1/agents/scripted-shadowed/shadow", params={"cursor": "x"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert cursor.status_code == 400


async def test_a_spec_with_a_bad_shadow_stops_the_gateway(
    stack: RunningStack, tmp_path: Path
) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("name: broken\nshadow: {agent: missing-agent, share: 0.5}\n")
    refusal = await gateway_refusal(stack, tmp_path)
    assert str(spec) in refusal
    assert "shadow.agent 'missing-agent' is not another agent" in refusal
