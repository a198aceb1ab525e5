"""The scripted model server speaks OpenAI chat completions and keeps concurrent scripts apart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.fakes.script_client import (
    ScriptedModel,
    ScriptedToolCall,
    reply_error,
    reply_hang,
    reply_text,
    reply_tool_calls,
    script_marker,
    unique_key,
)
from tests.fakes.scripted_model import create_app

BASE = "http://scripted"


@pytest.fixture
def app() -> FastAPI:
    return create_app()


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


@pytest.fixture
async def model(app: FastAPI) -> AsyncIterator[ScriptedModel]:
    async with ScriptedModel(BASE, transport=httpx.ASGITransport(app=app)) as scripted:
        yield scripted


async def chat(http: httpx.AsyncClient, text: str, **extra: Any) -> httpx.Response:
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}]
    body = {"model": "fake-model", "messages": messages, **extra}
    return await http.post("/v1/chat/completions", json=body)


def sse_events(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b]
    assert all(b.startswith("data: ") for b in blocks)
    return [b.removeprefix("data: ") for b in blocks]


async def test_text_reply_has_openai_shape(model: ScriptedModel, http: httpx.AsyncClient) -> None:
    key = unique_key()
    await model.script(key, [reply_text("Hello there.")])
    response = await chat(http, f"{script_marker(key)} say hello")
    assert response.status_code == 200
    body = response.json()
    completion = ChatCompletion.model_validate(body)
    assert completion.object == "chat.completion"
    assert completion.model == "fake-model"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Hello there."
    assert completion.choices[0].finish_reason == "stop"
    assert "tool_calls" not in body["choices"][0]["message"]
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len("Hello there.") // 4
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


async def test_scripted_token_counts_are_reported(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_text("x", prompt_tokens=1234, completion_tokens=56)])
    usage = (await chat(http, script_marker(key))).json()["usage"]
    assert usage == {
        "prompt_tokens": 1234,
        "completion_tokens": 56,
        "total_tokens": 1290,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


async def test_tool_call_reply_has_native_openai_shape(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    calls = [("search", {"query": "temporal", "limit": 3}), {"name": "noop", "id": "call_fixed"}]
    await model.script(key, [reply_tool_calls(calls)])
    body = (await chat(http, f"{script_marker(key)} look it up", tools=[])).json()
    completion = ChatCompletion.model_validate(body)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    wire_calls = body["choices"][0]["message"]["tool_calls"]
    assert [c["type"] for c in wire_calls] == ["function", "function"]
    assert isinstance(wire_calls[0]["function"]["arguments"], str)
    assert json.loads(wire_calls[0]["function"]["arguments"]) == {"query": "temporal", "limit": 3}
    assert wire_calls[0]["function"]["name"] == "search"
    assert wire_calls[0]["id"].startswith("call_")
    assert wire_calls[1]["id"] == "call_fixed"
    assert json.loads(wire_calls[1]["function"]["arguments"]) == {}


async def test_replies_are_served_in_queue_order(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_text("one"), reply_text("two"), reply_text("three")])
    contents = [
        (await chat(http, script_marker(key))).json()["choices"][0]["message"]["content"]
        for _ in range(2)
    ]
    assert contents == ["one", "two"]
    assert await model.status(key) == {"remaining": 1, "served": 2}


async def test_exhausted_script_answers_409_naming_the_key(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key("exhaust")
    await model.script(key, [reply_text("only")])
    assert (await chat(http, script_marker(key))).status_code == 200
    response = await chat(http, script_marker(key))
    assert response.status_code == 409
    error = response.json()["error"]
    assert f"script '{key}' is exhausted" in error["message"]
    assert error["code"] == "script_exhausted"


async def test_unregistered_script_answers_409(http: httpx.AsyncClient) -> None:
    response = await chat(http, script_marker(unique_key()))
    assert response.status_code == 409
    assert "not registered" in response.json()["error"]["message"]


async def test_request_without_marker_answers_400(http: httpx.AsyncClient) -> None:
    response = await chat(http, "no marker here")
    assert response.status_code == 400
    assert "no script marker" in response.json()["error"]["message"]


async def test_marker_is_found_in_content_parts(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_text("seen")])
    parts = [{"type": "text", "text": "intro"}, {"type": "text", "text": script_marker(key)}]
    body = {"model": "fake-model", "messages": [{"role": "user", "content": parts}]}
    response = await http.post("/v1/chat/completions", json=body)
    assert response.json()["choices"][0]["message"]["content"] == "seen"


async def test_scripted_status_answers_error_and_consumes_reply(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_error(503), reply_text("recovered")])
    failed = await chat(http, script_marker(key))
    assert failed.status_code == 503
    assert failed.json()["error"]["type"] == "server_error"
    retried = await chat(http, script_marker(key))
    assert retried.json()["choices"][0]["message"]["content"] == "recovered"


async def test_requests_are_recorded_in_order(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_tool_calls([("clock", {})]), reply_text("It is noon.")])
    first = (await chat(http, f"{script_marker(key)} what time is it?")).json()
    call = first["choices"][0]["message"]["tool_calls"][0]
    messages = [
        {"role": "user", "content": f"{script_marker(key)} what time is it?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "12:00"},
    ]
    await http.post("/v1/chat/completions", json={"model": "fake-model", "messages": messages})
    recorded = await model.requests(key)
    assert len(recorded) == 2
    assert recorded[0]["messages"][-1]["content"].endswith("what time is it?")
    assert recorded[1]["messages"][-1] == messages[-1]


async def test_concurrent_keys_do_not_interfere(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    keys = [unique_key(f"k{i}") for i in range(8)]
    for i, key in enumerate(keys):
        replies = [reply_text(f"{key}-{n}", delay_s=0.01 * ((i + n) % 3)) for n in range(3)]
        await model.script(key, replies)

    async def converse(key: str) -> list[str]:
        answers = []
        for _ in range(3):
            body = (await chat(http, script_marker(key))).json()
            answers.append(body["choices"][0]["message"]["content"])
        return answers

    results = await asyncio.gather(*(converse(key) for key in keys))
    assert results == [[f"{key}-{n}" for n in range(3)] for key in keys]
    for key in keys:
        assert len(await model.requests(key)) == 3


async def test_stream_has_openai_chunk_format(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_text("Streams arrive in pieces.")])
    response = await chat(
        http, script_marker(key), stream=True, stream_options={"include_usage": True}
    )
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(json.loads(e)) for e in events[:-1]]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Streams arrive in pieces."
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 4
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert gauge((await http.get("/metrics")).text, "sglang:num_running_reqs") == 0


async def test_stream_carries_tool_call_deltas(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_tool_calls([("search", {"q": "x"})])])
    events = sse_events(await chat(http, script_marker(key), stream=True))
    chunks = [json.loads(e) for e in events[:-1]]
    assert all("usage" not in c for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    call_deltas = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert call_deltas[0]["type"] == "function" and call_deltas[0]["id"].startswith("call_")
    assert call_deltas[0]["function"]["name"] == "search"
    arguments = "".join(d["function"]["arguments"] for d in call_deltas)
    assert json.loads(arguments) == {"q": "x"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def gauge(metrics_text: str, name: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} missing from /metrics")


async def test_metrics_reflect_an_in_flight_call(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_text("slow", delay_s=0.5)])
    idle = (await http.get("/metrics")).text
    assert gauge(idle, "llamacpp:requests_processing") == 0
    assert "# TYPE sglang:num_running_reqs gauge" in idle
    call = asyncio.create_task(chat(http, script_marker(key)))
    for _ in range(100):
        busy = (await http.get("/metrics")).text
        if gauge(busy, "sglang:num_running_reqs") == 1:
            break
        await asyncio.sleep(0.01)
    assert gauge(busy, "llamacpp:requests_processing") == 1
    assert gauge(busy, "sglang:num_running_reqs") == 1
    assert gauge(busy, "sglang:token_usage") > 0
    assert (await call).status_code == 200
    done = (await http.get("/metrics")).text
    assert gauge(done, "sglang:num_running_reqs") == 0
    assert gauge(done, "sglang:token_usage") == 0


async def test_forced_load_is_reported(model: ScriptedModel, http: httpx.AsyncClient) -> None:
    await model.set_load(queued=5, token_usage=0.75)
    text = (await http.get("/metrics")).text
    assert gauge(text, "llamacpp:requests_deferred") == 5
    assert gauge(text, "sglang:num_queue_reqs") == 5
    assert gauge(text, "sglang:token_usage") == 0.75


async def test_load_of_one_model_leaves_the_others_alone(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    await model.set_load(queued=7, token_usage=0.95, model="busy-model")
    busy = (await http.get("/metrics", params={"model": "busy-model"})).text
    assert gauge(busy, "sglang:num_queue_reqs") == 7
    assert gauge(busy, "sglang:token_usage") == 0.95
    assert 'model_name="busy-model"' in busy
    for other in ((await http.get("/metrics")).text, (await http.get("/metrics?model=x")).text):
        assert gauge(other, "sglang:num_queue_reqs") == 0
        assert gauge(other, "sglang:token_usage") == 0
    assert await model.metrics_reads("busy-model") == 1
    assert await model.metrics_reads() == 1

    key = unique_key()  # a call in flight counts only for the model it names
    await model.script(key, [reply_text("slow", delay_s=0.5)])
    body = {"model": "busy-model", "messages": [{"role": "user", "content": script_marker(key)}]}
    call = asyncio.create_task(http.post("/v1/chat/completions", json=body))
    for _ in range(100):
        text = (await http.get("/metrics?model=busy-model")).text
        if gauge(text, "sglang:num_running_reqs") == 1:
            break
        await asyncio.sleep(0.01)
    assert gauge(text, "sglang:num_running_reqs") == 1
    assert gauge((await http.get("/metrics?model=x")).text, "sglang:num_running_reqs") == 0
    assert (await call).status_code == 200

    await model.set_load(model="busy-model")
    cleared = (await http.get("/metrics", params={"model": "busy-model"})).text
    assert gauge(cleared, "sglang:num_queue_reqs") == 0


async def count_prompt(http: httpx.AsyncClient, body: dict[str, Any]) -> list[int]:
    """The prompt's tokens as a client counts them with llama.cpp: apply-template, tokenize."""
    template = {"messages": body["messages"], "tools": body.get("tools")}
    prompt = (await http.post("/apply-template", json=template)).json()["prompt"]
    tokenized = await http.post("/tokenize", json={"content": prompt, "add_special": True})
    tokens: list[int] = tokenized.json()["tokens"]
    return tokens


async def test_tokenize_cuts_four_character_chunks(http: httpx.AsyncClient) -> None:
    async def tokens(text: str) -> list[int]:
        body = {"content": text, "with_pieces": False, "parse_special": True}
        result: list[int] = (await http.post("/tokenize", json=body)).json()["tokens"]
        return result

    assert await tokens("") == []
    assert len(await tokens("abcdefghi")) == 3
    assert await tokens("abcdefgh") == await tokens("abcdefgh")
    assert (await tokens("abcdefgh"))[:1] == (await tokens("abcdXYZ"))[:1]


async def test_apply_template_renders_tools_messages_and_assistant_turn(
    http: httpx.AsyncClient,
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]
    tools = [{"type": "function", "function": {"name": "f"}}]
    body = {"messages": messages, "tools": tools}
    prompt = (await http.post("/apply-template", json=body)).json()["prompt"]
    assert prompt == (
        f"<|tools|>\n{json.dumps(tools, sort_keys=True)}\n"
        '<|user|>\nhi\n<|assistant|>\n{"a": 1}\n<|assistant|>\n'
    )


async def test_counted_prompt_tokens_match_the_completion(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_text("ok"), reply_text("ok")])
    tools = [{"type": "function", "function": {"name": "search", "parameters": {}}}]
    for extra in ({}, {"tools": tools}):
        messages = [{"role": "user", "content": f"{script_marker(key)} count me, please"}]
        body = {"model": "fake-model", "messages": messages, **extra}
        counted = await count_prompt(http, body)
        usage = (await http.post("/v1/chat/completions", json=body)).json()["usage"]
        assert usage["prompt_tokens"] == len(counted) > 0


async def test_cached_tokens_are_the_prefix_shared_with_the_previous_prompt(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_text("first answer"), reply_text("second"), reply_text("x")])
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": f"{script_marker(key)} start"},
    ]
    first = {"model": "fake-model", "messages": messages}
    first_usage = (await http.post("/v1/chat/completions", json=first)).json()["usage"]
    assert first_usage["prompt_tokens_details"] == {"cached_tokens": 0}

    messages = [
        *messages,
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "go"},
    ]
    second = {"model": "fake-model", "messages": messages}
    first_tokens, second_tokens = await count_prompt(http, first), await count_prompt(http, second)
    shared = 0
    while shared < len(first_tokens) and first_tokens[shared] == second_tokens[shared]:
        shared += 1
    events = sse_events(
        await http.post(
            "/v1/chat/completions",
            json={**second, "stream": True, "stream_options": {"include_usage": True}},
        )
    )
    usage = json.loads(events[-2])["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": shared}
    assert 0 < shared < usage["prompt_tokens"] == len(second_tokens)
    assert shared >= first_usage["prompt_tokens"] - 1  # all but a partly shared last chunk

    other = {"model": "other-model", "messages": messages}  # another model: its own cache
    other_usage = (await http.post("/v1/chat/completions", json=other)).json()["usage"]
    assert other_usage["prompt_tokens_details"] == {"cached_tokens": 0}
    assert (await http.get(f"/_scripts/{key}/prompts")).json() == [
        {"model": "fake-model", "prompt_tokens": len(first_tokens), "cached_tokens": 0},
        {"model": "fake-model", "prompt_tokens": len(second_tokens), "cached_tokens": shared},
        {"model": "other-model", "prompt_tokens": len(second_tokens), "cached_tokens": 0},
    ]
    assert (await http.get("/_scripts/unknown-key/prompts")).status_code == 404


async def test_model_replies_answer_every_call_outside_the_queue(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    summary = reply_text("Summary so far.").model_dump(exclude_none=True)
    script = {
        "replies": [reply_text("main").model_dump()],
        "model_replies": {"summariser": summary},
    }
    assert (await http.put(f"/_scripts/{key}", json=script)).status_code == 200

    async def ask(model_name: str) -> httpx.Response:
        body = {"model": model_name, "messages": [{"role": "user", "content": script_marker(key)}]}
        return await http.post("/v1/chat/completions", json=body)

    for _ in range(3):
        answer = (await ask("summariser")).json()
        assert answer["choices"][0]["message"]["content"] == "Summary so far."
        assert answer["model"] == "summariser"
    assert await model.status(key) == {"remaining": 1, "served": 0}
    assert (await ask("fake-model")).json()["choices"][0]["message"]["content"] == "main"
    assert (await ask("fake-model")).status_code == 409
    assert (await ask("summariser")).status_code == 200
    assert await model.status(key) == {"remaining": 0, "served": 1}
    recorded = [r["model"] for r in await model.requests(key)]
    assert recorded == ["summariser"] * 3 + ["fake-model"] * 2 + ["summariser"]
    prompts = (await http.get(f"/_scripts/{key}/prompts")).json()
    assert [p["model"] for p in prompts] == ["summariser"] * 3 + ["fake-model", "summariser"]
    assert [p["cached_tokens"] for p in prompts[1:3]] == [p["prompt_tokens"] for p in prompts[:2]]


async def test_health_and_models(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health")).json() == {"status": "ok"}
    models = (await http.get("/v1/models")).json()
    assert [m["id"] for m in models["data"]] == ["fake-model"]


async def test_raw_arguments_are_sent_as_written(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    cut_off = ScriptedToolCall(name="calculator", raw_arguments='{"expression": "6*')
    await model.script(key, [reply_tool_calls([cut_off])])
    body = (await chat(http, script_marker(key))).json()
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == (
        '{"expression": "6*'
    )


async def test_forgetting_a_script_ends_the_hang_of_its_reply_in_flight(
    model: ScriptedModel, http: httpx.AsyncClient
) -> None:
    key = unique_key()
    await model.script(key, [reply_hang()])
    call = asyncio.create_task(chat(http, script_marker(key)))
    for _ in range(100):
        if (await model.status(key))["served"] == 1:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert not call.done()
    await model.forget(key)
    answered = await asyncio.wait_for(call, 5)
    assert answered.status_code == 200
