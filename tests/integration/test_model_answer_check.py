"""`answer_check: model` on the real stack: scripted-judged's classify model group (the
scripted model here) reads the request and the answer. A verdict naming what is missing sends
the model back once with a reminder; a complete verdict, or one that cannot be read, lets the
answer through. The judge's call counts in the task's usage and is an `answer_check` event."""

from __future__ import annotations

from typing import Any

from tests.fakes.script_client import reply_error, reply_text, unique_key
from tests.integration.helpers import events, messages, submit, wait_for_status
from tests.stack import RunningStack


async def judged(stack: RunningStack, replies: list[Any]) -> dict[str, Any]:
    marker = await stack.scripted.script(unique_key("judged"), replies)
    async with stack.api() as api:
        task = await submit(
            api,
            "scripted-judged",
            f"What is the capital of France, and how many people live there? {marker}",
        )
        done = await wait_for_status(api, task["id"])
        checks = [e["data"] for e in await events(api, task["id"]) if e["type"] == "answer_check"]
        transcript = await messages(api, task["id"])
    return {"done": done, "checks": checks, "transcript": transcript}


async def test_an_answer_missing_a_part_goes_back_once_with_what_is_missing(
    stack: RunningStack,
) -> None:
    got = await judged(
        stack,
        [
            reply_text("Paris."),
            reply_text('{"complete": false, "missing": "how many people live in Paris"}'),
            reply_text("Paris, where about 2.1 million people live."),
        ],
    )
    assert got["done"]["status"] == "succeeded"
    assert got["done"]["result"] == "Paris, where about 2.1 million people live."
    assert got["done"]["usage"]["llm_calls"] == 3  # the judge's call counts
    users = [m["content"] for m in got["transcript"] if m["role"] == "user"]
    assert (
        users[-1] == "Not finished yet: how many people live in Paris. Do that next, then answer."
    )
    [check] = got["checks"]
    assert check["model"] == "scripted" and check["complete"] is False and check["readable"]
    assert check["prompt_tokens"] > 0


async def test_a_complete_or_unreadable_verdict_lets_the_answer_through(
    stack: RunningStack,
) -> None:
    complete = await judged(
        stack,
        [reply_text("Paris, 2.1 million people."), reply_text('{"complete": true, "missing": ""}')],
    )
    unreadable = await judged(stack, [reply_text("Paris."), reply_text("Looks fine to me!")])

    assert complete["done"]["result"] == "Paris, 2.1 million people."
    assert complete["done"]["usage"]["llm_calls"] == 2
    assert [c["complete"] for c in complete["checks"]] == [True]
    assert not any(
        m["content"].startswith("Not finished")
        for m in complete["transcript"]
        if m["role"] == "user"
    )

    assert unreadable["done"]["result"] == "Paris."
    assert [(c["complete"], c["readable"]) for c in unreadable["checks"]] == [(True, False)]


async def test_a_judge_that_fails_lets_the_answer_through(stack: RunningStack) -> None:
    got = await judged(stack, [reply_text("Paris."), reply_error(400)])  # refused for good
    assert got["done"]["status"] == "succeeded" and got["done"]["result"] == "Paris."
    assert got["checks"] == []
