"""AgentTaskWorkflow on a real Temporal dev server with a real Worker and scripted activities."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.worker import Worker

from tests.workflow.fake_activities import ScriptedActivities
from tests.workflow.replay import replay_and_maybe_record
from workflows import policies
from workflows.agent_task import AgentTaskWorkflow
from workflows.contracts.agents import AgentConfig
from workflows.contracts.tasks import (
    AgentTaskInput,
    AgentTaskResult,
    TaskStatus,
    workflow_id_for_task,
)
from workflows.contracts.tool_calls import ToolCall


def calc(call_id: str, expression: str) -> ToolCall:
    return ToolCall(id=call_id, name="calculator", arguments={"expression": expression})


async def start(
    client: Client, queue: str, max_iterations: int = 5
) -> WorkflowHandle[AgentTaskWorkflow, AgentTaskResult]:
    task_id = str(uuid.uuid4())
    agent = AgentConfig(name="t", tools=["calculator"], max_iterations=max_iterations)
    return await client.start_workflow(
        AgentTaskWorkflow.run,
        AgentTaskInput(task_id=task_id, agent=agent),
        id=workflow_id_for_task(task_id),
        task_queue=queue,
    )


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    yield f"wf-test-{uuid.uuid4().hex[:8]}"


def worker(client: Client, queue: str, acts: ScriptedActivities) -> Worker:
    return Worker(client, task_queue=queue, workflows=[AgentTaskWorkflow], activities=acts.all())


async def test_final_answer_without_tools_succeeds(temporal_client: Client, queue: str) -> None:
    acts = ScriptedActivities(turns=["42"])
    async with worker(temporal_client, queue, acts):
        handle = await start(temporal_client, queue)
        result = await handle.result()
    await replay_and_maybe_record(handle, "answer_only")
    assert result.status == TaskStatus.succeeded and result.output == "42"
    assert [f.status for f in acts.finished] == [TaskStatus.succeeded]


async def test_tool_calls_of_one_turn_run_concurrently_then_the_model_sees_them(
    temporal_client: Client, queue: str
) -> None:
    acts = ScriptedActivities(
        turns=[[calc("a", "1+1"), calc("b", "2+2"), calc("c", "3+3")], "done"], tool_delay=0.5
    )
    async with worker(temporal_client, queue, acts):
        handle = await start(temporal_client, queue)
        result = await handle.result()
    assert result.status == TaskStatus.succeeded and result.iterations == 2
    assert acts.max_tools_in_flight == 3
    # the second model turn is shown every earlier message: 2 opening, 1 reply, 3 tool results
    assert len(acts.model_requests[1].message_ids) == 6
    await replay_and_maybe_record(handle, "tools_then_answer")


async def test_running_out_of_iterations_fails_with_a_clear_code(
    temporal_client: Client, queue: str
) -> None:
    acts = ScriptedActivities(turns=[[calc("x", "1")], [calc("y", "2")], [calc("z", "3")]])
    async with worker(temporal_client, queue, acts):
        handle = await start(temporal_client, queue, max_iterations=3)
        result = await handle.result()
    await replay_and_maybe_record(handle, "max_iterations")
    assert result.status == TaskStatus.failed
    assert len(acts.model_requests) == 3
    assert acts.finished[-1].error_code == "max_iterations"
    assert "3 iterations" in (acts.finished[-1].error or "")


async def test_cancel_records_cancelled_and_stops_the_workflow(
    temporal_client: Client, queue: str
) -> None:
    acts = ScriptedActivities(turns=[[calc("x", "1")]], tool_delay=30)
    async with worker(temporal_client, queue, acts):
        handle = await start(temporal_client, queue, max_iterations=50)
        while not acts.tool_requests:
            await asyncio.sleep(0.05)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    await replay_and_maybe_record(handle, "cancelled")
    assert [f.status for f in acts.finished] == [TaskStatus.cancelled]


async def test_long_tasks_continue_as_new_and_keep_their_transcript(
    temporal_client: Client, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policies, "CONTINUE_AS_NEW_AFTER_ITERATIONS", 3)
    acts = ScriptedActivities(turns=[[calc(f"x{i}", str(i))] for i in range(7)] + ["end"])
    async with worker(temporal_client, queue, acts):
        result = await (await start(temporal_client, queue, max_iterations=20)).result()
    assert result.status == TaskStatus.succeeded and result.iterations == 8
    # iteration numbers continue across runs, and the transcript grows without gaps
    assert [r.iteration for r in acts.model_requests] == list(range(8))
    lengths = [len(r.message_ids) for r in acts.model_requests]
    assert lengths == [2 + 2 * i for i in range(8)]
