"""How a model call through the LiteLLM proxy fails: a short sentence Temporal keeps whole for
every retried attempt (its limit is 4 KiB: `limit.mutableStateActivityFailureSize.error`), and
that a tenant can read if the fault outlasts the retries."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from activities.chat_completions import complete_chat
from workflows.contracts.model_turns import MODEL_REQUEST_REJECTED
from workflows.failures import public_failure

TEMPORAL_KEEPS_BYTES = 4 * 1024
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi " * 2000}]}


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def answering(status: int, content: bytes) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, content=content)


async def failure_of(handler: Callable[[httpx.Request], httpx.Response]) -> ApplicationError:
    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.1.2.3:4000") as http:
        with pytest.raises(ApplicationError) as raised:
            await complete_chat(http, BODY)
    return raised.value


def encoded_size(error: ApplicationError) -> int:
    failure = Failure()
    converter = pydantic_data_converter
    converter.failure_converter.to_failure(error, converter.payload_converter, failure)
    return failure.ByteSize()


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (raising(httpx.ConnectError("All connection attempts failed")),
         "model gateway unreachable: ConnectError"),
        (raising(httpx.ReadTimeout("timed out")), "model gateway timed out: ReadTimeout"),
        (answering(500, b'{"error": {"message": "upstream said no"}}'),
         "model gateway failed (500): upstream said no"),
        (answering(200, b'{"choices": [{"message": {"content": "cut o'),
         "model gateway answered malformed JSON (200)"),
        (answering(200, b'{"choices": []}'), "model gateway answered no message (200)"),
    ],
)  # fmt: skip
async def test_a_retried_failure_is_one_short_sentence_in_words(
    handler: Callable[[httpx.Request], httpx.Response], reason: str
) -> None:
    error = await failure_of(handler)

    assert error.message == reason and not error.non_retryable
    assert error.__cause__ is None  # httpx's chain of tracebacks stays in the worker's log
    assert encoded_size(error) < TEMPORAL_KEEPS_BYTES / 2
    assert public_failure(error) == reason


async def test_a_request_the_gateway_refuses_fails_at_once_with_its_reason() -> None:
    refused = answering(400, b'{"error": {"message": "context too long"}}')
    error = await failure_of(refused)

    assert error.non_retryable and error.type == MODEL_REQUEST_REJECTED
    assert public_failure(error) == "model gateway rejected the request (400): context too long"
