"""1,000 tasks waiting for approval at once hold no activity and no worker slot: waiting is a
workflow condition with a timer, not a running activity."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client
from temporalio.worker import Worker

from tests.workflow.fake_activities import ScriptedActivities
from workflows.agent_task import AgentTaskWorkflow
from workflows.contracts.agents import AgentConfig
from workflows.contracts.approvals import ApprovalPolicy
from workflows.contracts.tasks import AgentTaskInput, workflow_id_for_task
from workflows.contracts.tool_calls import ToolCall

TASKS = 1000


async def test_a_thousand_tasks_waiting_for_approval_hold_no_activity(
    temporal_client: Client,
) -> None:
    call = ToolCall(id="c", name="write_file", arguments={"path": "x", "content": "y"})
    acts = ScriptedActivities(turns=[[call], "done"])
    queue = f"waiting-{uuid.uuid4().hex[:8]}"
    agent = AgentConfig(
        name="t", tools=["write_file"], approvals=[ApprovalPolicy(tool="write_file")]
    )
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[AgentTaskWorkflow],
        activities=acts.all(),
        max_concurrent_activities=50,
    ) as worker:
        handles = []
        for start in range(0, TASKS, 100):
            handles += await asyncio.gather(
                *(
                    temporal_client.start_workflow(
                        AgentTaskWorkflow.run,
                        AgentTaskInput(task_id=str(uuid.uuid4()), agent=agent),
                        id=workflow_id_for_task(f"wait-{queue}-{i}"),
                        task_queue=queue,
                    )
                    for i in range(start, start + 100)
                )
            )
        for _ in range(1200):
            if len(acts.notified) == TASKS:
                break
            await asyncio.sleep(0.1)
        assert len(acts.approval_requests) == TASKS
        assert len(acts.notified) == TASKS

        sample = await asyncio.gather(*(h.describe() for h in handles[::50]))
        pending = [len(d.raw_description.pending_activities) for d in sample]
        assert pending == [0] * len(sample)
        assert worker.is_running
        for start in range(0, TASKS, 100):
            await asyncio.gather(*(h.terminate("test over") for h in handles[start : start + 100]))
