"""A streamed model call (issue 12): the proxy's chunks become the same chat completion a
non-streamed call returns (text, tool calls joined by index, finish reason, usage and cost),
the text reaches the sink as it comes, cleaned as the stored reply is, and a stream that is
not a chat completion fails in the same short sentences as a non-streamed answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.chat_completions import complete_chat
from workflows.contracts.model_turns import MODEL_REPEATING, MODEL_REQUEST_REJECTED
from workflows.failures import public_failure

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


class Sink:
    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.finished = 0

    def write(self, text: str) -> None:
        self.pieces.append(text)

    async def finish(self) -> None:
        self.finished += 1


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> str:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return f"data: {json.dumps({**HEAD, 'choices': choices, **extra})}\n\n"


def stream_of(*events: str, headers: dict[str, str] | None = None, status: int = 200) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
        return httpx.Response(
            status,
            content="".join(events).encode(),
            headers={"content-type": "text/event-stream", **(headers or {})},
        )

    return handler


async def streamed(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[Any, Sink]:
    sink = Sink()
    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.1.2.3:4000") as http:
        reply = await complete_chat(http, BODY, sink)
    return reply, sink


async def failure_of(handler: Callable[[httpx.Request], httpx.Response]) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await streamed(handler)
    assert raised.value.__cause__ is None
    return raised.value


USAGE = {
    "prompt_tokens": 10,
    "completion_tokens": 4,
    "total_tokens": 14,
    "prompt_tokens_details": {"cached_tokens": 6},
    "cost": 0.000052,
}


async def test_text_arrives_piece_by_piece_and_assembles_into_the_usual_completion() -> None:
    reply, sink = await streamed(
        stream_of(
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo\x00 "}),
            chunk({"content": "world"}),
            chunk({}, "stop"),
            chunk({}, usage=USAGE),
            "data: [DONE]\n\n",
        )
    )

    assert sink.pieces == ["Hel", "lo ", "world"] and sink.finished == 1  # NUL dropped
    [choice] = reply["choices"]
    assert choice["message"] == {"role": "assistant", "content": "Hello\x00 world"}
    assert choice["finish_reason"] == "stop"
    assert reply["model"] == "m" and reply["id"] == "chatcmpl-1"
    usage = reply["usage"]
    assert usage["prompt_tokens"] == 10 and usage["completion_tokens"] == 4
    assert usage["prompt_tokens_details"]["cached_tokens"] == 6
    assert usage["cost_usd"] == pytest.approx(0.000052)  # LiteLLM's cost of a stream


async def test_tool_calls_are_joined_by_index_and_their_arguments_are_not_streamed() -> None:
    reply, sink = await streamed(
        stream_of(
            chunk({"role": "assistant", "content": None}),
            chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                   "function": {"name": "calculator", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                   "function": {"name": "current_time", "arguments": "{}"}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"expres'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'sion": "6*7"}'}}]}),
            chunk({}, "tool_calls"),
            chunk(None, usage={**USAGE, "cost": None}),
            "data: [DONE]\n\n",
        )
    )  # fmt: skip

    assert sink.pieces == []
    message = reply["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_a", "type": "function",
         "function": {"name": "calculator", "arguments": '{"expression": "6*7"}'}},
        {"id": "call_b", "type": "function",
         "function": {"name": "current_time", "arguments": "{}"}},
    ]  # fmt: skip
    assert reply["choices"][0]["finish_reason"] == "tool_calls"
    assert reply["usage"]["cost_usd"] is None  # the proxy knew no price


async def test_the_last_chunks_cost_wins_over_a_header_and_a_header_stands_in_for_none() -> None:
    """Headers leave before a stream's cost is known: the last chunk's figure is the one."""
    costs = []
    for usage in (USAGE, {**USAGE, "cost": None}):
        reply, _ = await streamed(
            stream_of(
                chunk({"content": "ok"}, "stop"),
                chunk(None, usage=usage),
                "data: [DONE]\n\n",
                headers={"x-litellm-response-cost": "0.25"},
            )
        )
        costs.append(reply["usage"]["cost_usd"])
    assert costs == [pytest.approx(0.000052), 0.25]


async def test_a_proxy_answering_in_one_piece_is_read_as_before() -> None:
    completion = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion, headers={"x-litellm-response-cost": "0.5"})

    reply, sink = await streamed(handler)
    assert reply["choices"][0]["message"]["content"] == "whole" and sink.pieces == []
    assert reply["usage"]["cost_usd"] == 0.5 and sink.finished == 1


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ((chunk({"content": "cut o"}), 'data: {"choices": [{"delta": {"cont\n\n'),
         "model gateway answered malformed JSON (200)"),
        (('data: {"choices": "none"}\n\n',), "model gateway answered no message (200)"),
        # what LiteLLM streams on when the server's answer was no stream it could read
        ((chunk({}, "stop"), chunk({}), "data: [DONE]\n\n"),
         "model gateway answered no message (200)"),
        ((chunk({"role": "assistant", "content": "half a rep"}),),
         "model gateway's stream was cut off (200)"),
        ((chunk({"content": "so"}),
          'data: {"error": {"message": "upstream went away", "code": "500"}}\n\n'),
         "model gateway failed (500): upstream went away"),
    ],
)  # fmt: skip
async def test_a_stream_that_is_no_chat_completion_fails_in_a_short_sentence(
    events: tuple[str, ...], reason: str
) -> None:
    error = await failure_of(stream_of(*events))
    assert error.message == reason and not error.non_retryable
    assert public_failure(error) == reason


async def test_a_refused_streamed_request_fails_at_once_with_the_proxys_reason() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": "context too long"}})

    error = await failure_of(refused)
    assert error.non_retryable and error.type == MODEL_REQUEST_REJECTED
    assert error.message == "model gateway rejected the request (400): context too long"


async def test_an_unreachable_proxy_fails_as_before_and_the_sink_is_finished() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("All connection attempts failed")

    sink = Sink()
    transport = httpx.MockTransport(unreachable)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.1.2.3:4000") as http:
        with pytest.raises(ApplicationError) as raised:
            await complete_chat(http, BODY, sink)
    assert raised.value.message == "model gateway unreachable: ConnectError"
    assert sink.finished == 1


LOOPING = (
    chunk({"content": " secret."}),
    'data: {"error": {"message": "litellm.InternalServerError: The model is repeating the same '
    'chunk =  secret.", "code": "500"}}\n\n',
)


async def test_a_reply_stuck_repeating_itself_is_asked_once_more_with_a_frequency_penalty() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        events = LOOPING if len(sent) == 1 else (chunk({"content": "done"}, "stop"),)
        return stream_of(*events)(request)

    reply, sink = await streamed(handler)

    assert reply["choices"][0]["message"]["content"] == "done"
    assert "frequency_penalty" not in sent[0] and sent[1]["frequency_penalty"] == 0.5
    assert sink.finished == 1


async def test_a_reply_that_repeats_itself_again_fails_at_once_without_retries() -> None:
    error = await failure_of(stream_of(*LOOPING))

    assert error.non_retryable and error.type == MODEL_REPEATING
    assert "kept repeating itself" in error.message and "repeated itself again" in error.message
    assert "kept repeating itself" in public_failure(error)
