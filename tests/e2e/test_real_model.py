"""One task end to end on the real CPU model (Qwen2.5-Coder-0.5B via llama.cpp via LiteLLM)."""

from __future__ import annotations

import re

from tests.integration.helpers import events, submit, wait_for_status
from tests.integration.test_task_stream import read_stream
from tests.stack import RunningStack


async def test_builtin_assistant_answers_with_its_calculator(stack: RunningStack) -> None:
    async with stack.api() as api:
        task = await submit(api, "assistant", "What is 1234 * 5678 + 91?")
        live = await read_stream(api, task["id"])
        done = await wait_for_status(api, task["id"], timeout=240)
        log = await events(api, task["id"])

    assert done["status"] == "succeeded", done
    calls = [e["data"] for e in log if e["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "calculator"
    assert calls[0]["result"] == "7006743"
    assert "7006743" in re.sub(r"[,\s]", "", done["result"])
    assert done["usage"]["llm_calls"] >= 2 and done["usage"]["prompt_tokens"] > 0
    # the answer streamed token by token as llama.cpp wrote it, whole before it was recorded
    answer = [e["data"] for e in log if e["type"] == "llm_call"][-1]
    deltas = [e["data"] for e in live if e["event"] == "delta"]
    last_turn = [d for d in deltas if d["iteration"] == answer["iteration"]]
    assert len(last_turn) > 1
    assert "".join(d["text"] for d in last_turn).strip() == answer["final_text"] == done["result"]


async def test_a_request_in_steps_gets_a_call_per_step_then_the_answer(stack: RunningStack) -> None:
    async with stack.api() as api:
        task = await submit(api, "assistant", "Compute 17*23, then add 1000.")
        done = await wait_for_status(api, task["id"], timeout=240)
        log = await events(api, task["id"])

    assert done["status"] == "succeeded", done
    calls = [e["data"] for e in log if e["type"] == "tool_call"]
    assert [(call["name"], call["result"]) for call in calls] == [
        ("calculator", "391"),
        ("calculator", "1391"),
    ]
    assert "1391" in re.sub(r"[,\s]", "", done["result"])
    # after the last step's result the reply was held to the answer: no third calculation
    assert done["usage"]["llm_calls"] == 3
