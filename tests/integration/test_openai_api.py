"""The OpenAI-compatible doors on the real stack, driven by the real `openai` SDK (pinned in
pyproject's dev group): /v1/responses in background and blocking, cancel, a stream resumed
after a dropped connection, an approval answered with `mcp_approval_response`, a conversation
over `previous_response_id`, budget stops as `incomplete`, OpenAI-shaped errors, and
/v1/chat/completions. The scripted model answers; each test has its own tenant."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.stack import RunningStack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(120)]


def client_for(stack: RunningStack, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{stack.info.gateway_url}/v1", api_key=key, max_retries=0)


@pytest.fixture
async def tenant(stack: RunningStack) -> dict[str, str]:
    name = unique_key("openai")
    return {
        "admin": await stack.create_key("admin", "openai-admin", tenant=name),
        "approver": await stack.create_key("approver", "openai-approver", tenant=name),
    }


@pytest.fixture
async def client(stack: RunningStack, tenant: dict[str, str]) -> AsyncIterator[AsyncOpenAI]:
    async with client_for(stack, tenant["admin"]) as opened:
        yield opened


async def scripted(stack: RunningStack, name: str, replies: list[Any]) -> tuple[str, str]:
    """(script key, the marker to put in the input)."""
    key = unique_key(name)
    return key, await stack.scripted.script(key, replies)


def approval_answer(request_id: str, approve: bool, reason: str | None = None) -> Any:
    return {
        "type": "mcp_approval_response",
        "approval_request_id": request_id,
        "approve": approve,
        "reason": reason,
    }


def calculator_then_answer(delay_s: float = 0.0) -> list[Any]:
    return [
        reply_tool_calls(
            [("calculator", {"expression": "17*23"})], prompt_tokens=300, completion_tokens=20
        ),
        reply_text("17 * 23 = 391", delay_s=delay_s, prompt_tokens=340, completion_tokens=9),
    ]


async def test_a_background_response_runs_the_agent_and_reads_back_as_a_task(
    stack: RunningStack, client: AsyncOpenAI, tenant: dict[str, str]
) -> None:
    key, marker = await scripted(stack, "oa-bg", calculator_then_answer())
    created = await client.responses.create(
        model="agentry/scripted-native",
        input=f"What is 17*23? {marker}",
        background=True,
        instructions="Answer in one line.",
        metadata={"ticket": "SUP-9"},
    )
    assert created.status in ("queued", "in_progress"), created
    done = created
    for _ in range(300):  # poll, as a client of background responses does
        done = await client.responses.retrieve(created.id)
        if done.status not in ("queued", "in_progress"):
            break
        await asyncio.sleep(0.1)
    async with stack.api(tenant["admin"]) as api:
        task = (await api.get(f"/v1/tasks/{created.id}")).json()
    seen_by_model = await stack.scripted.requests(key)

    assert done.status == "completed", done
    assert [item.type for item in done.output] == [
        "function_call",
        "function_call_output",
        "message",
    ]
    call, result, _ = done.output
    assert call.name == "calculator" and json.loads(call.arguments) == {"expression": "17*23"}
    assert result.call_id == call.call_id and result.output == "391"
    assert done.output_text == "17 * 23 = 391"
    assert done.usage is not None
    assert (done.usage.input_tokens, done.usage.output_tokens) == (640, 29)
    assert done.model == "agentry/scripted-native" and done.metadata == {"ticket": "SUP-9"}
    assert task["status"] == "succeeded" and task["result"] == "17 * 23 = 391"
    system = seen_by_model[0]["messages"][0]["content"]
    assert system.startswith("You are a test agent.")  # the agent's prompt stays, first
    assert system.rstrip().endswith("# Instructions from the user\n\nAnswer in one line.")


async def test_a_blocking_response_answers_once_the_agent_has(
    stack: RunningStack, client: AsyncOpenAI
) -> None:
    _, marker = await scripted(stack, "oa-block", [reply_text("hello there", delay_s=0.5)])
    done = await client.responses.create(model="scripted-native", input=f"Hi {marker}")
    assert done.status == "completed" and done.output_text == "hello there", done


async def test_a_stream_resumes_after_a_dropped_connection_without_gaps_or_repeats(
    stack: RunningStack, client: AsyncOpenAI
) -> None:
    _, marker = await scripted(stack, "oa-stream", calculator_then_answer(delay_s=1.5))
    first: list[Any] = []
    stream = await client.responses.create(
        model="scripted-native", input=f"What is 17*23? {marker}", stream=True
    )
    async for event in stream:
        first.append(event)
        if event.type == "response.output_item.done" and event.item.type == "function_call_output":
            break  # the connection drops here, before the answer is written
    await stream.close()
    response_id = first[0].response.id
    rest = [
        event
        async for event in await client.responses.retrieve(
            response_id, stream=True, starting_after=first[-1].sequence_number
        )
    ]
    numbers = [event.sequence_number for event in first + rest]
    kinds = [event.type for event in first + rest]

    assert numbers == list(range(len(numbers))), numbers
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "".join(e.delta for e in rest if e.type == "response.output_text.delta") == (
        "17 * 23 = 391"
    )
    assert rest[-1].response.output_text == "17 * 23 = 391"


async def test_an_approval_is_asked_and_answered_through_mcp_approval_items(
    stack: RunningStack, client: AsyncOpenAI, tenant: dict[str, str]
) -> None:
    _, marker = await scripted(
        stack,
        "oa-approve",
        [
            reply_tool_calls([("write_file", {"path": "reports/oa.txt", "content": "42"})]),
            reply_text("Saved reports/oa.txt."),
        ],
    )
    held = await client.responses.create(
        model="scripted-approvals", input=f"Save it {marker}"
    )  # blocking: answers once the call waits for a person
    [request] = [item for item in held.output if item.type == "mcp_approval_request"]
    async with client_for(stack, tenant["approver"]) as approver:
        answered = await approver.responses.create(
            model="scripted-approvals",
            previous_response_id=held.id,
            input=[approval_answer(request.id, True, "fine by me")],
        )
        with pytest.raises(openai.UnprocessableEntityError) as elsewhere:
            await approver.responses.create(
                model="scripted-approvals",
                previous_response_id=held.id,
                input=[approval_answer(str(uuid.uuid4()), True)],
            )
        with pytest.raises(openai.ConflictError) as twice:
            await approver.responses.create(
                model="scripted-approvals",
                previous_response_id=held.id,
                input=[approval_answer(request.id, False)],
            )
    async with stack.api(tenant["admin"]) as api:
        [audit] = (await api.get(f"/v1/tasks/{held.id}/approvals")).json()["items"]

    assert held.status == "in_progress", held
    assert request.name == "write_file" and request.server_label == "agentry"
    assert json.loads(request.arguments) == {"path": "reports/oa.txt", "content": "42"}
    assert answered.id == held.id and answered.status == "completed", answered
    assert answered.output_text == "Saved reports/oa.txt."
    assert any(item.type == "function_call_output" for item in answered.output)
    assert audit["status"] == "approved" and audit["comment"] == "fine by me"
    assert audit["decided_by"] == "openai-approver"
    assert isinstance(elsewhere.value.body, dict) and elsewhere.value.body["param"] == "input"
    assert twice.value.status_code == 409
    assert twice.value.body["type"] == "conflict_error"  # type: ignore[index]


async def test_a_conversation_goes_on_over_previous_response_ids(
    stack: RunningStack, client: AsyncOpenAI
) -> None:
    _, marker = await scripted(
        stack, "oa-chat", [reply_text("one"), reply_text("two"), reply_text("three")]
    )
    first = await client.responses.create(model="scripted-chat", input=f"Count {marker}")
    second = await client.responses.create(
        model="scripted-chat", previous_response_id=first.id, input="next"
    )
    third = await client.responses.create(
        model="scripted-chat", previous_response_id=second.id, input="and the next"
    )
    again = await client.responses.retrieve(first.id)

    assert [r.output_text for r in (first, second, third)] == ["one", "two", "three"]
    assert [r.status for r in (first, second, third)] == ["completed"] * 3
    assert second.id.startswith(f"{first.id}.") and third.id.startswith(f"{first.id}.")
    assert third.previous_response_id == second.id
    assert again.output_text == "one"  # each response holds its own turn


async def test_budget_stops_are_incomplete_with_the_reason(
    stack: RunningStack, client: AsyncOpenAI
) -> None:
    _, tokens = await scripted(
        stack,
        "oa-tokens",
        [
            reply_tool_calls([("calculator", {"expression": "1+1"})], prompt_tokens=500),
            reply_text("2"),
        ],
    )
    _, calls = await scripted(
        stack,
        "oa-calls",
        [
            reply_tool_calls([("calculator", {"expression": "1+1"})]),
            reply_tool_calls([("calculator", {"expression": "2+2"})]),
            reply_text("4"),
        ],
    )
    by_tokens = await client.responses.create(
        model="scripted-native", input=f"add {tokens}", max_output_tokens=300
    )
    by_calls = await client.responses.create(
        model="scripted-native", input=f"add twice {calls}", max_tool_calls=1
    )

    assert by_tokens.status == "incomplete", by_tokens
    assert by_tokens.incomplete_details is not None
    assert by_tokens.incomplete_details.reason == "max_output_tokens"
    assert by_calls.status == "incomplete", by_calls
    assert by_calls.incomplete_details is not None
    assert by_calls.incomplete_details.reason == "max_tool_calls"  # type: ignore[comparison-overlap]
    # the second call was asked for, then refused by the budget: it has no output
    kinds = [item.type for item in by_calls.output]
    assert kinds == ["function_call", "function_call_output", "function_call"]


async def test_a_background_response_is_cancelled(stack: RunningStack, client: AsyncOpenAI) -> None:
    _, marker = await scripted(
        stack,
        "oa-cancel",
        [reply_tool_calls([("wait", {"seconds": 60})]), reply_text("never")],
    )
    created = await client.responses.create(
        model="scripted-native", input=f"wait {marker}", background=True
    )
    cancelled = await client.responses.cancel(created.id)
    with pytest.raises(openai.ConflictError):
        await client.responses.cancel(created.id)
    assert cancelled.status == "cancelled", cancelled


async def test_errors_are_openai_shaped(
    stack: RunningStack, client: AsyncOpenAI, tenant: dict[str, str]
) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as unknown_agent:
        await client.responses.create(model="agentry/nobody", input="hi")
    with pytest.raises(openai.NotFoundError) as unknown_response:
        await client.responses.retrieve(str(uuid.uuid4()))
    with pytest.raises(openai.AuthenticationError):
        async with client_for(stack, "agk_not-a-key") as stranger:
            await stranger.responses.create(model="scripted-native", input="hi")
    with pytest.raises(openai.PermissionDeniedError) as not_a_submitter:
        async with client_for(stack, tenant["approver"]) as approver:
            await approver.responses.create(model="scripted-native", input="hi")
    with pytest.raises(openai.UnprocessableEntityError) as empty:
        await client.responses.create(model="scripted-native", input="   ")

    error = unknown_agent.value.body
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error" and error["code"] == "unknown-agent"
    assert "scripted-native" in error["message"]  # the agents there are
    assert unknown_response.value.status_code == 404
    assert not_a_submitter.value.status_code == 403
    assert isinstance(empty.value.body, dict) and empty.value.body["param"] == "input"


async def test_chat_completions_run_the_agent_and_stream_its_answer(
    stack: RunningStack, client: AsyncOpenAI
) -> None:
    _, plain = await scripted(stack, "oa-cc", calculator_then_answer())
    _, streamed = await scripted(stack, "oa-cc-stream", [reply_text("streamed answer")])
    _, chatty = await scripted(stack, "oa-cc-chat", [reply_text("still listening")])
    completion = await client.chat.completions.create(
        model="agentry/scripted-native",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"What is 17*23? {plain}"},
        ],
    )
    chunks = [
        chunk
        async for chunk in await client.chat.completions.create(
            model="scripted-native",
            messages=[{"role": "user", "content": f"Say it {streamed}"}],
            stream=True,
        )
    ]

    # a conversation agent answers, then its task stays open for the next message
    open_chat = await client.chat.completions.create(
        model="scripted-chat", messages=[{"role": "user", "content": f"Hello {chatty}"}]
    )

    assert open_chat.choices[0].message.content == "still listening"
    assert completion.choices[0].message.content == "17 * 23 = 391"
    assert completion.usage is not None and completion.usage.prompt_tokens == 640
    assert completion.usage.completion_tokens == 29
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "streamed answer"
    assert chunks[-1].usage is not None
