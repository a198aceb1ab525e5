"""Sub-agents in AgentTaskWorkflow on the time-skipping server: a `delegate` call runs the named
agent as a child workflow on that agent's task queue, concurrently with the turn's other
delegations; its answer is the call's result; cancelling the parent cancels the child; a
delegation too deep or to an unknown agent is an error the model reads."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflow.fake_activities import ScriptedActivities
from tests.workflow.replay import replay_and_maybe_record
from workflows.agent_task import AgentTaskWorkflow
from workflows.contracts.agents import AgentConfig
from workflows.contracts.delegation import DELEGATE_TOOL, MAX_DELEGATION_DEPTH
from workflows.contracts.tasks import AgentTaskInput, TaskStatus, task_queue_for_pool
from workflows.contracts.tool_calls import ToolCall


def delegate(call_id: str, agent: str = "helper", instructions: str = "do it") -> ToolCall:
    arguments = {"agent": agent, "instructions": instructions}
    return ToolCall(id=call_id, name=DELEGATE_TOOL, arguments=arguments)


@pytest.fixture
def env(time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return time_skipping_env


def setup(acts: ScriptedActivities, **parent: Any) -> tuple[str, AgentConfig]:
    """The child agent gets its own pool (queue); the parent lists it as a sub-agent."""
    pool = f"helpers-{uuid.uuid4().hex[:8]}"
    acts.child_agent = AgentConfig(name="helper", pool=pool, tools=["calculator"])
    agent = AgentConfig(name="boss", tools=[DELEGATE_TOOL], sub_agents=["helper"], **parent)
    return pool, agent


async def start(env: WorkflowEnvironment, agent: AgentConfig, depth: int = 0) -> Any:
    """The parent task, on a queue of its own (`boss_queue`)."""
    task_id = str(uuid.uuid4())
    return await env.client.start_workflow(
        AgentTaskWorkflow.run,
        AgentTaskInput(task_id=task_id, agent=agent, depth=depth),
        id=f"task-{task_id}",
        task_queue=boss_queue(f"task-{task_id}"),
    )


def boss_queue(workflow_id: str) -> str:
    return f"boss-{workflow_id}"


def workers(env: WorkflowEnvironment, acts: ScriptedActivities, queues: list[str]) -> Any:
    made = [
        Worker(env.client, task_queue=q, workflows=[AgentTaskWorkflow], activities=acts.all())
        for q in queues
    ]
    return made


async def test_delegations_of_one_turn_run_as_concurrent_children_on_their_pool(
    env: WorkflowEnvironment,
) -> None:
    acts = ScriptedActivities(
        turns=[[delegate("a"), delegate("b")], "both done"],
        child_turns=["child answer"],
        model_delay=0.5,
    )
    pool, agent = setup(acts)
    handle = await start(env, agent)
    queues = [boss_queue(handle.id), task_queue_for_pool(pool)]
    boss, helper = workers(env, acts, queues)
    async with boss, helper:
        result = await handle.result()
    await replay_and_maybe_record(handle, "delegated")

    assert result.status == TaskStatus.succeeded and result.output == "both done"
    assert [o.agent for o in acts.opened] == ["helper", "helper"]
    assert sorted((c.call_id, c.output, c.status) for c in acts.closed) == [
        ("a", "child answer", TaskStatus.succeeded),
        ("b", "child answer", TaskStatus.succeeded),
    ]
    assert acts.max_models_in_flight == 2  # the two children's turns overlapped
    children = {o.child_task_id for o in acts.opened}
    finished = {f.task_id: f.status for f in acts.finished}
    assert all(finished[c] == TaskStatus.succeeded for c in children)
    child_handle = env.client.get_workflow_handle(f"task-{acts.opened[0].child_task_id}")
    assert (await child_handle.describe()).task_queue == task_queue_for_pool(pool)


@pytest.mark.parametrize(
    ("call", "depth", "expected"),
    [
        (delegate("a"), MAX_DELEGATION_DEPTH, "delegation depth limit reached"),
        (delegate("a", agent="stranger"), 0, "there is no agent 'stranger'"),
        (delegate("a", instructions=" "), 0, "instructions must say"),
    ],
)
async def test_a_delegation_that_cannot_run_is_an_error_for_the_model(
    env: WorkflowEnvironment, call: ToolCall, depth: int, expected: str
) -> None:
    acts = ScriptedActivities(turns=[[call], "did it myself"])
    _, agent = setup(acts)
    handle = await start(env, agent, depth=depth)
    [worker] = workers(env, acts, [boss_queue(handle.id)])
    async with worker:
        result = await handle.result()
    assert result.status == TaskStatus.succeeded and not acts.opened
    [closed] = acts.closed
    assert closed.child_task_id is None and expected in (closed.error or "")


async def test_cancelling_the_parent_cancels_its_child(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    env = own_time_skipping_env  # the child's turn is still running when its workflow ends
    acts = ScriptedActivities(turns=[[delegate("a")], "never"], child_turns=["-"])
    acts.child_blocks = True  # the child's first turn is in flight when the cancel comes
    pool, agent = setup(acts)
    handle = await start(env, agent)
    boss, helper = workers(env, acts, [boss_queue(handle.id), task_queue_for_pool(pool)])
    async with boss, helper:
        for _ in range(400):
            if acts.opened and acts.models_in_flight:
                break
            await asyncio.sleep(0.025)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        child = env.client.get_workflow_handle(f"task-{acts.opened[0].child_task_id}")
        with pytest.raises(WorkflowFailureError):
            await child.result()
        acts.child_blocks = False  # the abandoned turn may end now
    statuses = {f.task_id: f.status for f in acts.finished}
    assert statuses[acts.opened[0].child_task_id] == TaskStatus.cancelled
    assert statuses[handle.id.removeprefix("task-")] == TaskStatus.cancelled
