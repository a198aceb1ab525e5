"""Bookkeeping writes and quick tools run as local activities (issue 13): inside the workflow
task that decided them, so a task costs Temporal one workflow task per model turn; on a pool
with `model_turns: local`, the model turns too, so a task is one workflow task in all."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.worker import Worker

from tests.workflow.fake_activities import ScriptedActivities
from tests.workflow.replay import replay_and_maybe_record
from workflows.agent_task import AgentTaskWorkflow
from workflows.contracts.agents import AgentConfig
from workflows.contracts.tasks import AgentTaskInput, TaskStatus, workflow_id_for_task
from workflows.contracts.tool_calls import ToolCall


def call(call_id: str, name: str, **arguments: object) -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=dict(arguments))


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    yield f"wf-local-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def started(
    client: Client, queue: str, acts: ScriptedActivities, agent: AgentConfig
) -> AsyncIterator[WorkflowHandle[Any, Any]]:
    """A task of `agent` started, while a worker with `acts` serves the queue."""
    task_id = str(uuid.uuid4())
    async with Worker(
        client, task_queue=queue, workflows=[AgentTaskWorkflow], activities=acts.all()
    ):
        yield await client.start_workflow(
            AgentTaskWorkflow.run,
            AgentTaskInput(task_id=task_id, agent=agent),
            id=workflow_id_for_task(task_id),
            task_queue=queue,
        )


async def run_task(
    client: Client,
    queue: str,
    acts: ScriptedActivities,
    kept_as: str | None = None,
    local_model_turns: bool = False,
) -> WorkflowHistory:
    """`kept_as`: the name test_replay.py keeps the history under, when recording."""
    agent = AgentConfig(
        name="t",
        tools=["calculator", "wait"],
        max_iterations=5,
        local_model_turns=local_model_turns,
    )
    async with started(client, queue, acts, agent) as handle:
        result = await handle.result()
    assert result.status == TaskStatus.succeeded and result.output == "done"
    await replay_and_maybe_record(handle, kept_as)
    return await handle.fetch_history()


def scheduled_activities(history: WorkflowHistory) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def local_activities(history: WorkflowHistory) -> int:
    """Local activities run (each is a marker; patches are markers too, of another name)."""
    return sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )


def count(history: WorkflowHistory, event_type: EventType.ValueType) -> int:
    return sum(1 for e in history.events if e.event_type == event_type)


async def test_quick_tools_and_bookkeeping_cost_no_activity_task(
    temporal_client: Client, queue: str
) -> None:
    acts = ScriptedActivities(
        turns=[
            [call("a", "calculator", expression="1+1"), call("b", "calculator", expression="2")],
            [call("c", "calculator", expression="3")],
            "done",
        ],
        quick_tools={"calculator"},
    )
    history = await run_task(temporal_client, queue, acts, kept_as="local_steps")

    assert [r.call.id for r in acts.tool_requests] == ["a", "b", "c"]  # each ran once
    assert len(acts.model_requests[2].message_ids) == 7  # 2 opening, 2 replies, 3 results
    assert [f.status for f in acts.finished] == [TaskStatus.succeeded]
    # only the model turns are activity tasks; begin, 3 tools and finish are markers
    assert scheduled_activities(history) == ["model_turn"] * 3
    assert count(history, EventType.EVENT_TYPE_MARKER_RECORDED) >= 5
    # one workflow task to start, then one per model turn's result
    assert count(history, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 4


async def test_a_tool_that_is_not_quick_stays_a_heartbeating_activity(
    temporal_client: Client, queue: str
) -> None:
    acts = ScriptedActivities(
        turns=[[call("w", "wait", seconds=1), call("c", "calculator", expression="1")], "done"],
        quick_tools={"calculator"},
    )
    history = await run_task(temporal_client, queue, acts)

    assert sorted(r.call.id for r in acts.tool_requests) == ["c", "w"]
    assert scheduled_activities(history) == ["model_turn", "run_tool", "model_turn"]


async def test_on_a_local_turn_pool_a_task_of_quick_tools_is_one_workflow_task(
    temporal_client: Client, queue: str
) -> None:
    acts = ScriptedActivities(
        turns=[
            [call("a", "calculator", expression="1+1")],
            [call("b", "calculator", expression="2")],
            "done",
        ],
        quick_tools={"calculator"},
    )
    history = await run_task(temporal_client, queue, acts, "local_model_turns", True)

    assert [r.call.id for r in acts.tool_requests] == ["a", "b"]
    assert [r.iteration for r in acts.model_requests] == [0, 1, 2]
    assert len(acts.model_requests[2].message_ids) == 6  # 2 opening, 2 replies, 2 results
    assert [f.status for f in acts.finished] == [TaskStatus.succeeded]
    assert scheduled_activities(history) == []  # turns, tools and bookkeeping: all markers
    assert local_activities(history) == 7  # begin, 3 turns, 2 tools, finish
    assert count(history, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1


async def test_on_a_local_turn_pool_a_slow_tool_still_runs_as_an_activity(
    temporal_client: Client, queue: str
) -> None:
    acts = ScriptedActivities(turns=[[call("w", "wait", seconds=1)], "done"])
    history = await run_task(temporal_client, queue, acts, local_model_turns=True)

    assert [r.call.id for r in acts.tool_requests] == ["w"]
    assert scheduled_activities(history) == ["run_tool"]


@pytest.mark.parametrize("local_model_turns", [False, True])
async def test_a_refused_model_call_fails_the_task_saying_why(
    temporal_client: Client, queue: str, local_model_turns: bool
) -> None:
    acts = ScriptedActivities(turns=["unused"], rejected_turn="model gateway rejected it (400)")
    agent = AgentConfig(name="t", local_model_turns=local_model_turns)
    async with started(temporal_client, queue, acts, agent) as handle:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert len(acts.model_requests) == 1  # refused: not retried
    [finished] = acts.finished
    assert (finished.status, finished.error_code) == (TaskStatus.failed, "step_failed")
    assert finished.error == "model gateway rejected it (400)"


async def test_a_cancel_reaches_a_task_of_local_steps_at_its_workflow_tasks_heartbeat(
    temporal_client: Client, queue: str
) -> None:
    """Local turns and quick tools never end their workflow task, so a cancel waits for the
    worker's workflow-task heartbeat (80 % of the 10 s timeout), then ends the task as
    cancelled: what `model_turns: local` trades for its speed (deploy/pools.yaml)."""
    turns: list[list[ToolCall] | str] = [
        [call(f"c{n}", "calculator", expression=f"{n}+1")] for n in range(40)
    ]
    acts = ScriptedActivities(turns=turns, model_delay=0.5, quick_tools={"calculator"})
    agent = AgentConfig(name="t", tools=["calculator"], max_iterations=50, local_model_turns=True)
    async with started(temporal_client, queue, acts, agent) as handle:
        while not acts.model_requests:
            await asyncio.sleep(0.05)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert [f.status for f in acts.finished] == [TaskStatus.cancelled]
    assert 1 < len(acts.model_requests) < 50  # turns went on until the heartbeat, then stopped
