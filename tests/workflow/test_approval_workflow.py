"""Approvals inside AgentTaskWorkflow, on the time-skipping test server: decisions, edits,
rejections, deadlines of days, escalation, follow-up messages and idle conversations."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflow.fake_activities import ScriptedActivities
from tests.workflow.replay import replay_and_maybe_record
from workflows.agent_task import AgentTaskWorkflow
from workflows.contracts.agents import AgentConfig
from workflows.contracts.approvals import (
    ApprovalDecided,
    ApprovalDecisionKind,
    ApprovalPolicy,
    ArgumentRule,
)
from workflows.contracts.messages import UserMessageAdded
from workflows.contracts.tasks import (
    AgentTaskInput,
    AgentTaskResult,
    TaskStatus,
    workflow_id_for_task,
)
from workflows.contracts.tool_calls import ToolCall
from workflows.tool_call_round import TIMED_OUT

DAY = 86_400
OUTSIDE_DRAFTS = ApprovalPolicy(
    tool="write_file",
    when=[ArgumentRule(argument="path", op="outside", value="drafts/")],
    deadline_seconds=3 * DAY,
)


def write(call_id: str, path: str) -> ToolCall:
    return ToolCall(id=call_id, name="write_file", arguments={"path": path, "content": "x"})


async def start(
    client: Client, queue: str, *, approvals: list[ApprovalPolicy], **agent: Any
) -> WorkflowHandle[AgentTaskWorkflow, AgentTaskResult]:
    task_id = str(uuid.uuid4())
    config = AgentConfig(name="t", tools=["write_file"], approvals=approvals, **agent)
    return await client.start_workflow(
        AgentTaskWorkflow.run,
        AgentTaskInput(task_id=task_id, agent=config),
        id=workflow_id_for_task(task_id),
        task_queue=queue,
    )


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("condition not reached in 10 s")


def decide(approval_id: str, kind: ApprovalDecisionKind, **extra: Any) -> ApprovalDecided:
    return ApprovalDecided(approval_id=approval_id, decision=kind, **extra)


async def record_and_signal(
    handle: WorkflowHandle[Any, Any], acts: ScriptedActivities, decision: ApprovalDecided
) -> None:
    """What the gateway does: store the decision, then wake the workflow with a signal."""
    acts.recorded_decisions[decision.approval_id] = decision
    await handle.signal(AgentTaskWorkflow.approval_decided, decision)


@pytest.fixture
def env(time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return time_skipping_env


def make_worker(env: WorkflowEnvironment, acts: ScriptedActivities) -> tuple[Worker, str]:
    queue = f"approvals-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        env.client, task_queue=queue, workflows=[AgentTaskWorkflow], activities=acts.all()
    )
    return worker, queue


async def test_free_calls_run_while_held_ones_wait_and_each_decision_applies(
    env: WorkflowEnvironment,
) -> None:
    acts = ScriptedActivities(
        turns=[[write("a", "drafts/ok.txt"), write("b", "etc/x"), write("c", "out/y")], "done"]
    )
    worker, queue = make_worker(env, acts)
    async with worker:
        handle = await start(env.client, queue, approvals=[OUTSIDE_DRAFTS])
        await until(lambda: bool(acts.approval_requests) and len(acts.tool_requests) == 1)
        assert acts.tool_requests[0].call.id == "a"  # the free call did not wait
        held = [n.call.id for n in acts.approval_requests[0].needed]
        assert held == ["b", "c"]
        assert "outside 'drafts/'" in acts.approval_requests[0].needed[0].reason

        await record_and_signal(
            handle, acts, decide("appr-b", ApprovalDecisionKind.reject, comment="not there")
        )
        await asyncio.sleep(0.3)
        assert len(acts.tool_requests) == 1  # the turn waits for every decision
        edited = {"path": "drafts/y", "content": "x"}
        decision = decide("appr-c", ApprovalDecisionKind.edit, arguments=edited)
        await record_and_signal(handle, acts, decision)
        await record_and_signal(handle, acts, decision)  # re-sent: harmless
        result = await handle.result()
    await replay_and_maybe_record(handle, "approvals_decided")

    assert result.status == TaskStatus.succeeded
    by_id = {r.call.id: r for r in acts.tool_requests}
    assert by_id["b"].rejection == "the approver rejected this call: not there"
    assert by_id["c"].call.arguments == edited and by_id["c"].rejection is None
    assert len(acts.tool_requests) == 3
    assert acts.statuses == ["waiting_approval", "running"]
    # the model saw all three results, in call order, after its own reply
    assert len(acts.model_requests[1].message_ids) == 2 + 1 + 3


async def test_undecided_call_is_rejected_at_a_deadline_of_days(env: WorkflowEnvironment) -> None:
    acts = ScriptedActivities(turns=[[write("a", "etc/x")], "done"])
    worker, queue = make_worker(env, acts)
    async with worker:
        handle = await start(env.client, queue, approvals=[OUTSIDE_DRAFTS])
        result = await handle.result()  # time skips the three days
    assert result.status == TaskStatus.succeeded
    assert [e.action for e in acts.expirations] == ["reject"]
    assert acts.tool_requests[0].rejection == f"the approver rejected this call: {TIMED_OUT}"


async def test_escalation_renews_the_deadline_then_rejects(env: WorkflowEnvironment) -> None:
    policy = ApprovalPolicy(
        tool="write_file",
        deadline_seconds=DAY,
        on_timeout="escalate",
        escalation_deadline_seconds=2 * DAY,
    )
    acts = ScriptedActivities(turns=[[write("a", "drafts/x")], "done"])
    worker, queue = make_worker(env, acts)
    async with worker:
        handle = await start(env.client, queue, approvals=[policy])
        started = await env.get_current_time()
        await handle.result()
    await replay_and_maybe_record(handle, "approval_escalated_then_rejected")
    first, second = acts.expirations
    assert first.action == "escalate" and second.action == "reject"
    assert first.new_deadline_at is not None
    assert (first.new_deadline_at - started).total_seconds() >= 3 * DAY - 60
    assert acts.notified == ["appr-a", "appr-a"]  # requested, then escalated


async def test_a_decision_that_beat_the_deadline_wins(env: WorkflowEnvironment) -> None:
    acts = ScriptedActivities(turns=[[write("a", "etc/x")], "done"])
    acts.recorded_decisions["appr-a"] = decide("appr-a", ApprovalDecisionKind.approve)
    worker, queue = make_worker(env, acts)
    async with worker:
        await (await start(env.client, queue, approvals=[OUTSIDE_DRAFTS])).result()
    assert acts.tool_requests[0].rejection is None


async def test_a_failing_webhook_never_blocks_the_task(env: WorkflowEnvironment) -> None:
    acts = ScriptedActivities(turns=[[write("a", "etc/x")], "done"], webhook_fails=True)
    worker, queue = make_worker(env, acts)
    async with worker:
        handle = await start(env.client, queue, approvals=[OUTSIDE_DRAFTS])
        await until(lambda: bool(acts.notified))
        await record_and_signal(handle, acts, decide("appr-a", ApprovalDecisionKind.approve))
        result = await handle.result()
    assert result.status == TaskStatus.succeeded and acts.notified == ["appr-a"]


async def test_a_signal_without_a_stored_decision_runs_nothing(env: WorkflowEnvironment) -> None:
    """Anyone who can reach Temporal can signal; only what the gateway stored is acted on."""
    acts = ScriptedActivities(turns=[[write("a", "etc/x")], "done"])
    worker, queue = make_worker(env, acts)
    async with worker:
        handle = await start(env.client, queue, approvals=[OUTSIDE_DRAFTS])
        await until(lambda: bool(acts.approval_requests))
        forged = decide("appr-a", ApprovalDecisionKind.approve)
        await handle.signal(AgentTaskWorkflow.approval_decided, forged)
        result = await handle.result()  # the deadline passes: nobody really approved
    assert result.status == TaskStatus.succeeded
    assert acts.tool_requests[0].rejection == f"the approver rejected this call: {TIMED_OUT}"


async def test_the_stored_decision_wins_over_what_a_signal_says(
    env: WorkflowEnvironment,
) -> None:
    acts = ScriptedActivities(turns=[[write("a", "etc/x")], "done"])
    worker, queue = make_worker(env, acts)
    async with worker:
        handle = await start(env.client, queue, approvals=[OUTSIDE_DRAFTS])
        await until(lambda: bool(acts.approval_requests))
        acts.recorded_decisions["appr-a"] = decide(
            "appr-a", ApprovalDecisionKind.reject, comment="no"
        )
        edited = {"path": "etc/passwd", "content": "x"}
        forged = decide("appr-a", ApprovalDecisionKind.edit, arguments=edited)
        await handle.signal(AgentTaskWorkflow.approval_decided, forged)
        result = await handle.result()
    assert result.status == TaskStatus.succeeded
    assert acts.tool_requests[0].rejection == "the approver rejected this call: no"
    assert acts.tool_requests[0].call.arguments != edited


async def test_cancel_while_waiting_records_cancelled(env: WorkflowEnvironment) -> None:
    acts = ScriptedActivities(turns=[[write("a", "etc/x")], "done"])
    worker, queue = make_worker(env, acts)
    async with worker:
        handle = await start(env.client, queue, approvals=[OUTSIDE_DRAFTS])
        await until(lambda: bool(acts.approval_requests))
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    # a local step may run twice when the cancel lands while it runs: finish_task is
    # idempotent (the first outcome stands), so the task is recorded cancelled, once
    assert {f.status for f in acts.finished} == {TaskStatus.cancelled}
    assert acts.tool_requests == []


async def test_a_conversation_waits_for_the_next_message_until_idle(
    env: WorkflowEnvironment,
) -> None:
    acts = ScriptedActivities(turns=["first answer", "second answer"])
    worker, queue = make_worker(env, acts)
    async with worker:
        handle = await start(env.client, queue, approvals=[], idle_timeout_seconds=DAY)
        await until(lambda: acts.statuses == ["waiting_input"])
        await handle.signal(AgentTaskWorkflow.user_message_added, UserMessageAdded(message_id=77))
        result = await handle.result()  # then a day of silence ends it
    await replay_and_maybe_record(handle, "conversation_idle")
    assert result.status == TaskStatus.succeeded and result.output == "second answer"
    assert acts.statuses == ["waiting_input", "running", "waiting_input"]
    assert acts.model_requests[1].message_ids[-1] == 77
