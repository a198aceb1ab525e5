"""A shadow task's tool-call round on the time-skipping server: every call goes to the tool
activity marked dry-run (side effects, approval or delegation), it never waits for a person
nor opens a sub-agent, and a live task's calls are not marked."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflow.fake_activities import ScriptedActivities
from workflows.agent_task import AgentTaskWorkflow
from workflows.contracts.agents import AgentConfig
from workflows.contracts.approvals import ApprovalPolicy, ArgumentRule
from workflows.contracts.shadow import DryRun
from workflows.contracts.tasks import AgentTaskInput, TaskStatus, workflow_id_for_task
from workflows.contracts.tool_calls import ToolCall

OUTSIDE_DRAFTS = ApprovalPolicy(
    tool="write_file",
    when=[ArgumentRule(argument="path", op="outside", value="drafts/")],
    deadline_seconds=86_400,
)
TURNS: list[list[ToolCall] | str] = [
    [
        ToolCall(id="a", name="write_file", arguments={"path": "drafts/x", "content": "1"}),
        ToolCall(id="b", name="write_file", arguments={"path": "etc/x", "content": "2"}),
        ToolCall(id="c", name="delegate", arguments={"agent": "h", "instructions": "go"}),
        ToolCall(id="d", name="calculator", arguments={"expression": "1+1"}),
    ],
    "done",
]


async def run(env: WorkflowEnvironment, shadow_of: str | None) -> ScriptedActivities:
    acts = ScriptedActivities(turns=TURNS)
    queue = f"shadow-{uuid.uuid4().hex[:8]}"
    config = AgentConfig(
        name="t",
        tools=["write_file", "calculator", "delegate"],
        approvals=[OUTSIDE_DRAFTS],
        sub_agents=["h"],
    )
    task_id = str(uuid.uuid4())
    async with Worker(
        env.client, task_queue=queue, workflows=[AgentTaskWorkflow], activities=acts.all()
    ):
        handle = await env.client.start_workflow(
            AgentTaskWorkflow.run,
            AgentTaskInput(task_id=task_id, agent=config, shadow_of=shadow_of),
            id=workflow_id_for_task(task_id),
            task_queue=queue,
        )
        result = await handle.result()
    assert result.status == TaskStatus.succeeded and result.output == "done"
    return acts


async def test_a_shadow_task_dry_runs_held_delegating_and_side_effecting_calls(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    acts = await run(time_skipping_env, shadow_of=str(uuid.uuid4()))

    marks = {request.call.id: request.dry_run for request in acts.tool_requests}
    assert marks == {
        "a": DryRun.side_effects,  # the activity dry-runs it: write_file has side effects
        "b": DryRun.approval,  # the live agent would ask a person
        "c": DryRun.delegation,  # no real sub-agent
        "d": DryRun.side_effects,  # the activity runs it: calculator has none
    }
    assert acts.approval_requests == [] and acts.statuses == []  # never waits for a person
    assert acts.opened == []  # never opens a sub-agent task


async def test_a_live_task_marks_nothing_dry_run(time_skipping_env: WorkflowEnvironment) -> None:
    env = time_skipping_env
    acts = ScriptedActivities(turns=TURNS)
    # the held call would wait for a person: the live round is the one the approval tests
    # cover; here only that no call is marked, with the policy left out
    queue = f"live-{uuid.uuid4().hex[:8]}"
    task_id = str(uuid.uuid4())
    config = AgentConfig(name="t", tools=["write_file", "calculator"])
    async with Worker(
        env.client, task_queue=queue, workflows=[AgentTaskWorkflow], activities=acts.all()
    ):
        handle = await env.client.start_workflow(
            AgentTaskWorkflow.run,
            AgentTaskInput(task_id=task_id, agent=config),
            id=workflow_id_for_task(task_id),
            task_queue=queue,
        )
        await handle.result()
    assert [request.dry_run for request in acts.tool_requests] == [None] * 4
