"""A database outage as the workflow sees it, on the time-skipping server: bookkeeping steps
are retried until Postgres is back (three minutes: the task goes on), but not forever (longer
than policies.DATABASE_OUTAGE_LIMIT: the task fails, saying the database was unreachable)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflow.fake_activities import ScriptedActivities
from workflows.agent_task import AgentTaskWorkflow
from workflows.contracts.agents import AgentConfig
from workflows.contracts.lifecycle import DATABASE_UNREACHABLE, BeginTaskRequest, BeginTaskResult
from workflows.contracts.tasks import AgentTaskInput, AgentTaskResult, TaskStatus
from workflows.policies import DATABASE_OUTAGE_LIMIT


@dataclass
class PostgresAway(ScriptedActivities):
    """`begin_task` finds the database unreachable for `away_for` of (skipped) time."""

    away_for: timedelta = timedelta(0)
    begin_attempts: int = 0

    @activity.defn(name="begin_task")
    async def begin_task(self, request: BeginTaskRequest) -> BeginTaskResult:
        self.begin_attempts += 1
        info = activity.info()
        if info.current_attempt_scheduled_time - info.scheduled_time < self.away_for:
            raise ApplicationError("the database is unreachable", type=DATABASE_UNREACHABLE)
        return BeginTaskResult(message_ids=[1, 2])


@pytest.fixture
def env(time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return time_skipping_env


async def run(env: WorkflowEnvironment, acts: PostgresAway) -> AgentTaskResult:
    queue = f"outage-{uuid.uuid4().hex[:8]}"
    task_id = str(uuid.uuid4())
    async with Worker(
        env.client, task_queue=queue, workflows=[AgentTaskWorkflow], activities=acts.all()
    ):
        return await env.client.execute_workflow(
            AgentTaskWorkflow.run,
            AgentTaskInput(task_id=task_id, agent=AgentConfig(name="t", tools=["calculator"])),
            id=f"task-{task_id}",
            task_queue=queue,
        )


async def test_a_three_minute_outage_is_waited_out(env: WorkflowEnvironment) -> None:
    acts = PostgresAway(turns=["done"], away_for=timedelta(minutes=3))
    result = await run(env, acts)
    assert result.status == TaskStatus.succeeded and result.output == "done"
    assert acts.begin_attempts > 10  # every 10 s at most, whatever the attempt


async def test_an_outage_past_the_limit_fails_the_task_in_words(env: WorkflowEnvironment) -> None:
    acts = PostgresAway(turns=["never asked"], away_for=DATABASE_OUTAGE_LIMIT * 2)
    with pytest.raises(WorkflowFailureError):
        await run(env, acts)
    minutes = int(DATABASE_OUTAGE_LIMIT.total_seconds() // 60)
    [finished] = acts.finished
    assert finished.status == TaskStatus.failed
    assert finished.error == (
        f"starting the task failed: the database stayed unreachable for {minutes} minutes"
    )
    assert not acts.model_requests
