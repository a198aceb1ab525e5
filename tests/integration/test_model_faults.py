"""The model server misbehaving, on the real stack (through the real LiteLLM proxy): it answers
500, cut-off JSON or nothing at all, or the model writes tool calls that cannot run.

Each test says the outcome it expects. A server fault is retried and the task completes; what
Temporal kept of each failed attempt is checked to read in words (no host, SQL or stack
trace), since that is the task's error if the fault outlasts the retries (ten attempts over
about two minutes, too long to wait out here; a refused request fails at once and is checked
whole). An invalid tool call is an error the model reads, never a failed task, and never runs.
(LiteLLM itself down for 10 s: test_outages.py.)
"""

from __future__ import annotations

from pathlib import Path

from services.temporal_client import connect_temporal
from tests.fakes.script_client import (
    ScriptedToolCall,
    reply_error,
    reply_hang,
    reply_malformed,
    reply_text,
    reply_tool_calls,
    unique_key,
)
from tests.integration.fault_helpers import AGENT, assert_in_words, attempt_failures, fault_workers
from tests.integration.helpers import events, messages, submit, wait_for_status
from tests.stack import RunningStack


async def test_a_500_and_cut_off_json_are_retried_and_the_task_completes(
    stack: RunningStack, tmp_path: Path
) -> None:
    """Expected: succeeded, the model asked three times, each failure a sentence in words."""
    key = unique_key("model-500")
    marker = await stack.scripted.script(
        key, [reply_error(500), reply_malformed(), reply_text("recovered")]
    )
    client = await connect_temporal(stack.settings)
    async with fault_workers(stack, tmp_path, count=1), stack.api() as api:
        task = await submit(api, AGENT, f"hi {marker}")
        handle = client.get_workflow_handle(f"task-{task['id']}")
        async with attempt_failures(client, handle, "model_turn") as reasons:
            done = await wait_for_status(api, task["id"], timeout=60)

    assert done["status"] == "succeeded" and done["result"] == "recovered", done
    assert (await stack.scripted.status(key))["served"] == 3
    assert len(reasons) == 2, reasons
    assert reasons[0].startswith("model gateway failed (500)"), reasons
    # a streamed call: LiteLLM turns the server's cut-off JSON into an empty stream
    assert reasons[1] == "model gateway answered no message (200)", reasons
    for reason in reasons:
        assert_in_words(reason)


async def test_a_hanging_model_server_is_given_up_on_and_asked_again(
    stack: RunningStack, tmp_path: Path
) -> None:
    """Expected: succeeded. The worker's model-call timeout (AGENTRY_LLM_TIMEOUT_SECONDS, 3 s
    for this worker; 300 by default) ends the hung attempt, its heartbeats having kept it
    alive until then; the retry gets an answer."""
    key = unique_key("model-hang")
    marker = await stack.scripted.script(key, [reply_hang(), reply_text("answered")])
    client = await connect_temporal(stack.settings)
    async with (
        fault_workers(stack, tmp_path, count=1, AGENTRY_LLM_TIMEOUT_SECONDS="3"),
        stack.api() as api,
    ):
        task = await submit(api, AGENT, f"hi {marker}")
        handle = client.get_workflow_handle(f"task-{task['id']}")
        async with attempt_failures(client, handle, "model_turn") as reasons:
            done = await wait_for_status(api, task["id"], timeout=60)
    served = (await stack.scripted.status(key))["served"]
    await stack.scripted.forget(key)  # lets the hung request (still held by LiteLLM) go

    assert done["status"] == "succeeded" and done["result"] == "answered", done
    assert served == 2
    assert reasons == ["model gateway timed out: ReadTimeout"]


async def test_a_request_the_model_server_refuses_fails_the_task_at_once_in_words(
    stack: RunningStack, tmp_path: Path
) -> None:
    """Expected: failed, after one call (asking again cannot help), with the reason in words."""
    key = unique_key("model-400")
    marker = await stack.scripted.script(key, [reply_error(400)])
    async with fault_workers(stack, tmp_path, count=1), stack.api() as api:
        task = await submit(api, AGENT, f"hi {marker}")
        done = await wait_for_status(api, task["id"], timeout=60)

    assert done["status"] == "failed", done
    assert done["error"]["message"].startswith("model gateway rejected the request (400)")
    assert_in_words(done["error"]["message"])
    assert (await stack.scripted.status(key))["served"] == 1


async def test_invalid_tool_calls_are_errors_the_model_reads_and_never_run(
    stack: RunningStack, tmp_path: Path
) -> None:
    """Expected: succeeded. Cut-off JSON arguments, arguments that are not an object, an
    argument the tool does not take and a tool the agent does not have are each answered with
    what was wrong; none runs (no file is written); the valid write that follows runs once."""
    key = unique_key("invalid-calls")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls(
                [
                    ScriptedToolCall(
                        name="write_file", raw_arguments='{"path": "drafts/a.txt", "content": "cu'
                    ),
                    ScriptedToolCall(name="write_file", raw_arguments='["drafts/b.txt", "b"]'),
                    ("calculator", {"expr": "6*7"}),
                    ("rm_rf", {"path": "/"}),
                ]
            ),
            reply_tool_calls([("write_file", {"path": "drafts/ok.txt", "content": "once"})]),
            reply_text("fixed"),
        ],
    )
    async with fault_workers(stack, tmp_path, count=1), stack.api() as api:
        task = await submit(api, AGENT, f"write {marker}")
        done = await wait_for_status(api, task["id"], timeout=60)
        log = await events(api, task["id"])
        files = (await api.get(f"/v1/tasks/{task['id']}/files")).json()
    second_request = (await stack.scripted.requests(key))[1]

    assert done["status"] == "succeeded" and done["result"] == "fixed", done
    calls = [e["data"] for e in log if e["type"] == "tool_call"]  # a round's calls in parallel
    assert sorted((c["iteration"], c["name"], c["is_error"], c["attempt"]) for c in calls) == [
        (0, "calculator", True, 1),
        (0, "rm_rf", True, 1),
        (0, "write_file", True, 1),
        (0, "write_file", True, 1),
        (1, "write_file", False, 1),
    ]
    read = [m["content"] for m in second_request["messages"] if m["role"] == "tool"]
    assert "the arguments are not valid JSON" in read[0]
    assert "the arguments must be a JSON object" in read[1]
    assert "expression" in read[2]  # the argument it needs
    assert "tool 'rm_rf' is not available" in read[3]
    assert [f["path"] for f in files["items"]] == ["drafts/ok.txt"]


async def test_a_broken_text_tool_call_is_an_error_the_model_reads(stack: RunningStack) -> None:
    """Expected: succeeded. A model writing calls as text (as Qwen on llama.cpp does) cuts one
    off mid-JSON: the model is told the call is not valid JSON, and answers next."""
    key = unique_key("broken-text-call")
    cut_off = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6*\n</tool_call>'
    marker = await stack.scripted.script(key, [reply_text(cut_off), reply_text("42")])
    async with stack.api() as api:
        task = await submit(api, "scripted-text", f"compute {marker}")
        done = await wait_for_status(api, task["id"], timeout=60)
        transcript = await messages(api, task["id"])

    assert done["status"] == "succeeded" and done["result"] == "42", done
    [result] = [m for m in transcript if m["role"] == "tool"]
    assert "not valid JSON" in result["content"]
