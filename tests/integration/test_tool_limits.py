"""Tools under limits they cannot escape. A tool that loops, eats memory, sleeps or crashes
runs in its own process and comes back as a tool error the model reads, within its limit,
while other calls go on; hostile calculator input on the real stack ends the same way and
another tenant's task finishes meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.db.events import EventRepository
from activities.db.models import Task
from activities.db.steps import StepRepository
from activities.tool_calls import ToolCallActivities
from activities.tools.builtin import calculator
from activities.tools.errors import ToolError
from activities.tools.processes import ToolCrashed, ToolLimits, ToolProcesses
from activities.tools.registry import ToolRegistry
from tests.fakes import hostile_tools
from tests.fakes.script_client import reply_text, unique_key
from tests.integration.helpers import events, messages, new_task_row, submit, wait_for_status
from tests.integration.test_long_tasks import call
from tests.stack import RunningStack
from workflows.contracts.tool_calls import ToolCall, ToolCallRequest

LIMITS = ToolLimits(wall_seconds=3, cpu_seconds=1, memory_mb=128)


@pytest.fixture
async def processes() -> AsyncIterator[ToolProcesses]:
    runner = ToolProcesses(LIMITS)
    yield runner
    await runner.close()


async def test_a_looping_tool_is_stopped_at_its_cpu_limit(processes: ToolProcesses) -> None:
    with pytest.raises(ToolError, match="more than 1 seconds of CPU"):
        await processes.run(hostile_tools.spin, {})


async def test_a_tool_that_eats_memory_is_stopped_at_its_limit(processes: ToolProcesses) -> None:
    with pytest.raises(ToolError, match="more than 128 MB of memory"):
        await processes.run(hostile_tools.hog, {})


async def test_a_tool_that_blocks_is_stopped_at_its_wall_clock_limit(
    processes: ToolProcesses,
) -> None:
    with pytest.raises(ToolError, match="longer than 3 seconds"):
        await processes.run(hostile_tools.sleep, {})


async def test_a_crashing_tool_reports_its_error_type_only(processes: ToolProcesses) -> None:
    with pytest.raises(ToolCrashed) as crashed:
        await processes.run(hostile_tools.boom, {})
    assert str(crashed.value) == "KeyError"  # its message (a secret, here) stays behind


async def test_a_tool_cannot_read_the_workers_settings_or_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTRY_LITELLM_KEY", "sk-worker-secret")
    monkeypatch.setenv("AGENTRY_DATABASE_URL", "postgresql://agentry:pw@db/agentry")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    runner = ToolProcesses(LIMITS)  # started with the environment above
    try:
        seen = (await runner.run(hostile_tools.snoop, {})).split()
    finally:
        await runner.close()
    assert "PATH" in seen
    assert not {"AGENTRY_LITELLM_KEY", "AGENTRY_DATABASE_URL", "OPENAI_API_KEY"} & set(seen)


async def test_other_calls_finish_while_one_loops(processes: ToolProcesses) -> None:
    spinning = asyncio.create_task(processes.run(hostile_tools.spin, {}))
    printing = processes.run(hostile_tools.chatty, {})  # prints into its own stdout
    sums = [processes.run(calculator, {"expression": f"{i}*{i}"}) for i in range(20)]
    answers = await asyncio.gather(printing, *sums)
    assert answers == ["said it", *(str(i * i) for i in range(20))]
    assert not spinning.done()  # the sums did not wait for it
    with pytest.raises(ToolError):
        await spinning


async def test_a_cancelled_call_is_killed_and_the_runner_goes_on(
    processes: ToolProcesses,
) -> None:
    sleeping = asyncio.create_task(processes.run(hostile_tools.sleep, {}))
    await asyncio.sleep(0.5)
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    assert await processes.run(calculator, {"expression": "2+2"}) == "4"


Sessions = async_sessionmaker[AsyncSession]


async def test_the_tool_activity_records_a_stopped_tool_as_an_error_the_model_reads(
    db_sessions: Sessions, processes: ToolProcesses
) -> None:
    task_id = await new_task_row(db_sessions, "tools")
    registry = ToolRegistry()
    registry.add(hostile_tools.spin)
    tools = ToolCallActivities(db_sessions, registry, processes)
    spin = ToolCall(id="c1", name="spin")
    request = ToolCallRequest(task_id=str(task_id), iteration=0, call=spin)

    result = await ActivityEnvironment().run(tools.run_tool, request)

    assert result.is_error
    async with db_sessions() as session:
        row = await StepRepository(session).find(task_id, "tool:0:c1")
    assert row is not None and row.content == (
        "error: the tool used more than 1 seconds of CPU and was stopped"
    )


HOSTILE_EXPRESSIONS = ["round(1, -10**300)", "10**10**10", "(2**1000)**(2**1000)", "9**9**9**9"]


async def test_hostile_calculator_input_ends_as_a_tool_error_and_others_go_on(
    stack: RunningStack,
) -> None:
    other_key = await stack.create_key("submitter", "other", tenant=f"other-{uuid.uuid4().hex[:6]}")
    hostile = []
    for expression in HOSTILE_EXPRESSIONS:
        marker = await stack.scripted.script(
            unique_key("hostile"), [call("calculator", {"expression": expression}),
                                    reply_text("could not compute it")]
        )  # fmt: skip
        hostile.append(marker)
    calm = await stack.scripted.script(unique_key("calm"), [reply_text("fine")])
    async with stack.api() as api, stack.api(other_key) as other:
        tasks = [await submit(api, "scripted-text", f"compute {m}") for m in hostile]
        neighbour = await submit(other, "scripted-text", f"hello {calm}")
        finished = [await wait_for_status(api, task["id"], timeout=60) for task in tasks]
        neighbour_done = await wait_for_status(other, neighbour["id"], timeout=60)
        results = [
            [m for m in await messages(api, task["id"]) if m["role"] == "tool"] for task in tasks
        ]
        logs = [await events(api, task["id"]) for task in tasks]

    assert neighbour_done["status"] == "succeeded"
    outcomes = zip(HOSTILE_EXPRESSIONS, finished, results, logs, strict=True)
    for expression, done, tool_rows, log in outcomes:
        assert done["status"] == "succeeded", (expression, done)
        assert len(tool_rows) == 1 and tool_rows[0]["content"].startswith("error: "), expression
        calls = [e["data"] for e in log if e["type"] == "tool_call"]
        assert calls[0]["is_error"] and calls[0]["attempt"] == 1  # no retry was needed


def lookup(ticker: str) -> str:
    """A paid lookup, as a tool behind a priced API would be."""
    return f"{ticker}: 42"


async def test_a_tool_that_declares_a_price_adds_it_to_its_tasks_cost_when_it_runs(
    db_sessions: Sessions, processes: ToolProcesses
) -> None:
    task_id = await new_task_row(db_sessions, "priced")
    registry = ToolRegistry()
    registry.add(lookup, cost_usd=0.25)
    tools = ToolCallActivities(db_sessions, registry, processes)

    async def run(call_id: str, arguments: dict[str, object]) -> None:
        call = ToolCall(id=call_id, name="lookup", arguments=arguments)
        request = ToolCallRequest(task_id=str(task_id), iteration=0, call=call)
        await ActivityEnvironment().run(tools.run_tool, request)

    await run("paid", {"ticker": "ACME"})
    await run("invalid", {})  # refused before it ran: free
    async with db_sessions() as session:
        task = await session.get(Task, task_id)
        paid = await EventRepository(session).find(task_id, "tool:0:paid")
        invalid = await EventRepository(session).find(task_id, "tool:0:invalid")
    assert task is not None and float(task.cost_usd) == 0.25
    assert paid is not None and paid.data["cost_usd"] == 0.25
    assert invalid is not None and invalid.data["cost_usd"] == 0.0
    with pytest.raises(ValueError, match="must not be negative"):
        ToolRegistry().add(lookup, cost_usd=-1)
