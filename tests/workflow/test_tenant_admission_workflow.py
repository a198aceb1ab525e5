"""A task whose tenant is at its cap waits on a durable timer, holding no activity, and asks
again; a cancel while it waits ends it as cancelled before it ever began."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflow.fake_activities import ScriptedActivities
from tests.workflow.replay import replay_and_maybe_record
from workflows.agent_task import AgentTaskWorkflow
from workflows.contracts.agents import AgentConfig
from workflows.contracts.lifecycle import BeginTaskRequest, BeginTaskResult
from workflows.contracts.tasks import (
    AdmissionPolicy,
    AgentTaskInput,
    AgentTaskResult,
    TaskStatus,
    workflow_id_for_task,
)

POLICY = AdmissionPolicy(default_cap=2, poll_seconds=2)


@dataclass
class CappedActivities(ScriptedActivities):
    """begin_task refuses the first `refusals` times, asking for a wait of `wait_seconds`."""

    refusals: int = 2
    wait_seconds: float = 600.0
    begin_requests: list[BeginTaskRequest] = field(default_factory=list)

    @activity.defn(name="begin_task")
    async def begin_task(self, request: BeginTaskRequest) -> BeginTaskResult:
        self.begin_requests.append(request)
        if len(self.begin_requests) <= self.refusals:
            return BeginTaskResult(message_ids=[], wait_seconds=self.wait_seconds)
        return BeginTaskResult(message_ids=[1, 2])


async def start(client: Client, queue: str) -> WorkflowHandle[AgentTaskWorkflow, AgentTaskResult]:
    task_id = str(uuid.uuid4())
    return await client.start_workflow(
        AgentTaskWorkflow.run,
        AgentTaskInput(task_id=task_id, agent=AgentConfig(name="t"), admission=POLICY),
        id=workflow_id_for_task(task_id),
        task_queue=queue,
    )


def worker(client: Client, queue: str, acts: ScriptedActivities) -> Worker:
    return Worker(client, task_queue=queue, workflows=[AgentTaskWorkflow], activities=acts.all())


async def event_types(handle: WorkflowHandle[AgentTaskWorkflow, AgentTaskResult]) -> list[int]:
    return [event.event_type for event in (await handle.fetch_history()).events]


async def test_a_refused_task_waits_on_a_timer_then_begins(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    client, queue = time_skipping_env.client, f"cap-{uuid.uuid4().hex[:8]}"
    acts = CappedActivities(turns=["42"], refusals=2, wait_seconds=600)
    async with worker(client, queue, acts):
        handle = await start(client, queue)
        result = await handle.result()

    assert result.status == TaskStatus.succeeded and result.output == "42"
    assert [r.admission for r in acts.begin_requests] == [POLICY] * 3
    types = await event_types(handle)
    assert types.count(EventType.EVENT_TYPE_TIMER_FIRED) == 2  # durable waits, not activities
    assert len(acts.model_requests) == 1


async def test_a_task_cancelled_while_it_waits_for_a_slot_ends_cancelled(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    client, queue = time_skipping_env.client, f"cap-{uuid.uuid4().hex[:8]}"
    acts = CappedActivities(turns=["never"], refusals=1_000_000, wait_seconds=3600)
    async with worker(client, queue, acts):
        handle = await start(client, queue)
        while not acts.begin_requests:
            await asyncio.sleep(0.05)
        described = await handle.describe()
        assert not described.raw_description.pending_activities  # waiting holds no slot
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()

    assert [f.status for f in acts.finished] == [TaskStatus.cancelled]
    assert acts.model_requests == []


async def test_the_waiting_history_replays(temporal_client: Client) -> None:
    queue = f"cap-{uuid.uuid4().hex[:8]}"
    acts = CappedActivities(turns=["42"], refusals=2, wait_seconds=0.1)
    async with worker(temporal_client, queue, acts):
        handle = await start(temporal_client, queue)
        assert (await handle.result()).status == TaskStatus.succeeded
    await replay_and_maybe_record(handle, "admission_waited")
