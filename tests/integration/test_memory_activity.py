"""The summary step against Postgres: the summary is stored once with the ids it replaces,
and a retried (or replayed) step gets the same summary back without asking the model again.
A middle too large for the summariser's context is folded in chunks. A summariser that loops
on one phrase does not get to replace the turns: an extract of them does."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.db.events import EventRepository
from activities.db.messages import NewMessage
from activities.db.steps import StepRepository
from activities.memory import MemoryActivities
from activities.tools.registry import default_registry
from tests.integration.helpers import new_task_row
from workflows.contracts.memory import ContextBudget, MemoryConfig, SummarizeRequest

Sessions = async_sessionmaker[AsyncSession]


class Summariser:
    """Stands in for the LiteLLM proxy: answers each summary request, and keeps them."""

    def __init__(self, text: str | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.text = text

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        reply = {"role": "assistant", "content": self.text or f"summary {len(self.requests)}"}
        usage = {"prompt_tokens": 100, "completion_tokens": 10}
        return httpx.Response(200, json={"choices": [{"message": reply}], "usage": usage})


async def task_with_transcript(
    sessions: Sessions, turns: int, result: str
) -> tuple[str, list[int]]:
    task_id = await new_task_row(sessions, "memory")
    async with sessions.begin() as session:
        steps = StepRepository(session)
        rows = [
            await steps.record(task_id, "system", NewMessage("system", "You add.")),
            await steps.record(task_id, "input", NewMessage("user", "Add many numbers.")),
        ]
        for i in range(turns):
            call = {"id": f"c{i}", "name": "calculator", "arguments": {"expression": f"{i}+1"}}
            rows.append(await steps.record(task_id, f"model:{i}", NewMessage(
                "assistant", "", tool_calls=[call])))  # fmt: skip
            rows.append(await steps.record(task_id, f"tool:{i}", NewMessage(
                "tool", result, tool_call_id=f"c{i}", name="calculator")))  # fmt: skip
    return str(task_id), [row.id for row in rows]


@asynccontextmanager
async def summarising(sessions: Sessions, model: Summariser) -> AsyncIterator[MemoryActivities]:
    """The memory activities, with `model` standing in for the LiteLLM proxy."""
    transport = httpx.MockTransport(model)
    async with httpx.AsyncClient(base_url="http://proxy", transport=transport) as http:
        yield MemoryActivities(sessions, http, default_registry())


def request(task_id: str, ids: list[int], budget: ContextBudget | None) -> SummarizeRequest:
    memory = MemoryConfig(summarize_threshold=500, keep_recent=2, model="small", budget=budget)
    return SummarizeRequest(
        task_id=task_id, iteration=9, model="big", message_ids=ids, memory=memory,
        tokens_before=900, tools=["calculator"],
    )  # fmt: skip


async def test_a_summary_is_stored_once_and_found_again_on_retry(db_sessions: Sessions) -> None:
    task_id, ids = await task_with_transcript(db_sessions, turns=5, result="ok")
    model = Summariser()
    async with summarising(db_sessions, model) as memory:
        first = await ActivityEnvironment().run(memory.summarize, request(task_id, ids, None))
        again = await ActivityEnvironment().run(memory.summarize, request(task_id, ids, None))

    assert len(model.requests) == 1 and model.requests[0]["model"] == "small"
    assert again == first
    # the opening two, the summary, the last two turns (assistant + result each)
    assert first.message_ids == [*ids[:2], first.summary_id, *ids[-4:]]
    assert first.replaced == 6 and first.prompt_tokens == 100
    async with db_sessions() as session:
        row = await StepRepository(session).find(uuid.UUID(task_id), "summary:9")
        event = await EventRepository(session).find(uuid.UUID(task_id), "summary:9")
    assert row is not None and row.summary_of == ids[2:8] and "summary 1" in (row.content or "")
    assert event is not None and event.type == "memory" and event.data["tokens_before"] == 900


async def test_a_middle_larger_than_the_summarisers_context_is_folded_in_chunks(
    db_sessions: Sessions,
) -> None:
    task_id, ids = await task_with_transcript(db_sessions, turns=12, result="r" * 1500)
    model = Summariser()
    small = ContextBudget(context_window=2048, output_reserve=256)
    async with summarising(db_sessions, model) as memory:
        result = await ActivityEnvironment().run(memory.summarize, request(task_id, ids, small))

    assert len(model.requests) > 1
    for sent in model.requests:  # each chunk fits the summariser (bytes bound tokens)
        assert len(json.dumps(sent["messages"]).encode()) <= small.prompt_tokens
    # each fold carries the summary so far
    assert "Summary so far:\nsummary 1" in model.requests[1]["messages"][1]["content"]
    assert result.prompt_tokens == 100 * len(model.requests)


async def test_a_looping_summary_is_replaced_by_an_extract_of_the_turns(
    db_sessions: Sessions,
) -> None:
    task_id, ids = await task_with_transcript(db_sessions, turns=5, result="the sum is 7006743")
    model = Summariser(text="The task: " * 150)
    async with summarising(db_sessions, model) as memory:
        result = await ActivityEnvironment().run(memory.summarize, request(task_id, ids, None))

    async with db_sessions() as session:
        row = await StepRepository(session).find(uuid.UUID(task_id), "summary:9")
        event = await EventRepository(session).find(uuid.UUID(task_id), "summary:9")
    assert row is not None and row.id == result.summary_id
    content = row.content or ""
    assert "The task: The task:" not in content
    assert "Result of calculator: the sum is 7006743" in content  # the facts survive
    assert "calculator({'expression': '0+1'})" in content
    assert event is not None and event.data["rejected"][0].startswith("repetitive")


async def test_an_extract_of_an_extract_keeps_each_earlier_line(db_sessions: Sessions) -> None:
    task_id, ids = await task_with_transcript(db_sessions, turns=5, result="the sum is 7006743")
    model = Summariser(text="The task: " * 150)
    async with summarising(db_sessions, model) as memory:
        first = await ActivityEnvironment().run(memory.summarize, request(task_id, ids, None))
        async with db_sessions.begin() as session:
            steps = StepRepository(session)
            facts = [NewMessage("user", f"late fact {i}: the invoice total is {i}42 EUR")
                     for i in range(3)]  # fmt: skip
            more = [await steps.record(uuid.UUID(task_id), f"late:{i}", fact)
                    for i, fact in enumerate(facts)]  # fmt: skip
        later = request(task_id, [*first.message_ids, *(row.id for row in more)], None)
        second = await ActivityEnvironment().run(
            memory.summarize, later.model_copy(update={"iteration": 12})
        )

    async with db_sessions() as session:
        row = await StepRepository(session).find(uuid.UUID(task_id), "summary:12")
    assert row is not None and row.id == second.summary_id and first.summary_id in row.summary_of
    lines = (row.content or "").splitlines()
    assert not any(line.startswith("Earlier summary") for line in lines)  # folded line by line
    assert any("Result of calculator: the sum is 7006743" in line for line in lines)
    assert "late fact 0: the invoice total is 042 EUR" in row.content
