"""Long tasks in AgentTaskWorkflow on the time-skipping server: summaries replace older turns,
budgets and runaway detection stop a task with the figures, a prompt that cannot fit fails
with its own code."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflow.fake_activities import ScriptedActivities
from tests.workflow.replay import replay_and_maybe_record
from workflows.agent_task import AgentTaskWorkflow
from workflows.contracts.agents import AgentConfig
from workflows.contracts.approvals import ApprovalPolicy
from workflows.contracts.budgets import BUDGET_EXCEEDED, RUNAWAY_DETECTED, Budgets
from workflows.contracts.memory import CONTEXT_EXCEEDED, MemoryConfig
from workflows.contracts.model_turns import ModelTurnRequest, ModelTurnResult
from workflows.contracts.tasks import AgentTaskInput, AgentTaskResult, TaskStatus
from workflows.contracts.tool_calls import ToolCall

HOUR = 3_600


def calc(call_id: str, expression: str) -> ToolCall:
    return ToolCall(id=call_id, name="calculator", arguments={"expression": expression})


def distinct_turns(n: int, final: str = "done") -> list[list[ToolCall] | str]:
    return [*([calc(f"c{i}", f"{i}+1")] for i in range(n)), final]


@pytest.fixture
def env(time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return time_skipping_env


async def run(
    env: WorkflowEnvironment, acts: ScriptedActivities, activities: list[Any] | None = None,
    history: str | None = None, **agent: Any,
) -> tuple[AgentTaskResult, Any]:  # fmt: skip
    """Run one task to its end; `history`: the name its history is kept under for
    test_replay.py (with AGENTRY_RECORD_HISTORIES=1), else it is only replayed."""
    queue = f"long-{uuid.uuid4().hex[:8]}"
    config = AgentConfig(name="t", tools=["calculator", "write_file"], **agent)
    task_id = str(uuid.uuid4())
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[AgentTaskWorkflow],
        activities=activities or acts.all(),
    ):
        handle = await env.client.start_workflow(
            AgentTaskWorkflow.run,
            AgentTaskInput(task_id=task_id, agent=config),
            id=f"task-{task_id}",
            task_queue=queue,
        )
        result = await handle.result()
    await replay_and_maybe_record(handle, history)
    return result, handle


async def test_a_long_prompt_is_summarised_then_the_turn_asked_again(
    env: WorkflowEnvironment,
) -> None:
    acts = ScriptedActivities(turns=distinct_turns(6), summarize_above=7)
    memory = MemoryConfig(summarize_threshold=1000, keep_recent=1, model="small")
    result, _ = await run(env, acts, memory=memory, max_iterations=10, history="summarised")

    assert result.status == TaskStatus.succeeded
    # 2 opening + 3 turns of (reply, result) = 8 > 7: the 4th turn summarised first
    [first, *_] = acts.summaries
    assert first.iteration == 3 and first.tokens_before == 999 and first.memory.model == "small"
    asked = [r for r in acts.model_requests if r.iteration == 3]
    assert [r.summarize_threshold for r in asked] == [1000, None]  # the retry may not loop
    # asked again with the opening messages, the summary, and the turns kept verbatim
    again = asked[1].message_ids
    assert len(again) == 5 and again[:2] == [1, 2] and again[3:] == first.message_ids[-2:]
    assert again[2] not in first.message_ids
    # the next turn builds on the shorter transcript
    later = next(r for r in acts.model_requests if r.iteration == 4)
    assert len(later.message_ids) < len(first.message_ids) + 2


async def test_without_memory_no_summary_is_asked_for(env: WorkflowEnvironment) -> None:
    acts = ScriptedActivities(turns=distinct_turns(3), summarize_above=3)
    result, _ = await run(env, acts)
    assert result.status == TaskStatus.succeeded and not acts.summaries
    assert all(r.summarize_threshold is None for r in acts.model_requests)


@pytest.mark.parametrize(
    ("budgets", "turns", "budget", "limit", "used"),
    [
        (Budgets(max_model_calls=3), distinct_turns(5), "max_model_calls", 3, 3),
        (Budgets(max_tokens=250), distinct_turns(5), "max_tokens", 250, 300),
        (
            Budgets(max_tool_calls_per_turn=2),
            [[calc("a", "1"), calc("b", "2"), calc("c", "3")], "done"],
            "max_tool_calls_per_turn",
            2,
            3,
        ),
    ],
)
async def test_a_budget_reached_fails_the_task_with_its_figures(
    env: WorkflowEnvironment,
    budgets: Budgets,
    turns: list[list[ToolCall] | str],
    budget: str,
    limit: int,
    used: int,
) -> None:
    acts = ScriptedActivities(turns=turns, turn_tokens=100)
    result, _ = await run(env, acts, budgets=budgets, max_iterations=20)

    assert result.status == TaskStatus.failed
    [finished] = acts.finished
    assert finished.error_code == BUDGET_EXCEEDED
    assert finished.details == {"budget": budget, "limit": limit, "used": used}
    assert f"budget {budget} reached" in (finished.error or "")
    assert "/messages" in (finished.error or "")  # the partial transcript is kept


async def test_the_deadline_counts_time_spent_waiting(env: WorkflowEnvironment) -> None:
    """A call held for approval until its 2 h deadline: the 1 h task deadline has passed when
    the next turn would start (the server skips the time)."""
    acts = ScriptedActivities(turns=[[ToolCall(id="w", name="write_file", arguments={})], "x"])
    hold = ApprovalPolicy(tool="write_file", deadline_seconds=2 * HOUR)
    result, _ = await run(env, acts, approvals=[hold], budgets=Budgets(deadline_seconds=HOUR))
    assert result.status == TaskStatus.failed
    [finished] = acts.finished
    assert finished.error_code == BUDGET_EXCEEDED
    assert finished.details is not None and finished.details["budget"] == "deadline_seconds"
    assert finished.details["used"] >= 2 * HOUR
    assert len(acts.model_requests) == 1


async def test_the_same_call_again_and_again_is_a_runaway(env: WorkflowEnvironment) -> None:
    acts = ScriptedActivities(turns=[[calc("a", "2+2")]])
    result, _ = await run(env, acts, max_iterations=20, history="runaway_repeated_call")
    assert result.status == TaskStatus.failed
    [finished] = acts.finished
    assert finished.error_code == RUNAWAY_DETECTED
    assert finished.details is not None and finished.details["kind"] == "repeated_call"
    assert finished.details["calls"] == [["calculator", {"expression": "2+2"}]]
    assert len(acts.model_requests) == 3 and len(acts.tool_requests) == 2  # the 3rd never ran


async def test_a_result_the_answer_rests_on_is_followed_by_an_answer(
    env: WorkflowEnvironment,
) -> None:
    """`answer_after`: once a call of the tool has worked, the next turn is offered no tools;
    while its calls fail, the model may call again to fix them."""
    acts = ScriptedActivities(
        turns=[[calc("a", "1/0")], [calc("b", "1/1")], "1"], failing_calls={"a"}
    )
    result, _ = await run(env, acts, answer_after=["calculator"], history="answer_after_tool")
    assert result.status == TaskStatus.succeeded and result.output == "1"
    offered = [request.tools for request in acts.model_requests]
    assert offered == [["calculator", "write_file"], ["calculator", "write_file"], []]


async def test_a_result_of_another_tool_leaves_the_tools_offered(
    env: WorkflowEnvironment,
) -> None:
    write = ToolCall(id="w", name="write_file", arguments={"path": "a.txt", "content": "x"})
    acts = ScriptedActivities(turns=[[write], [calc("b", "1/1")], "1"])
    await run(env, acts, answer_after=["calculator"])
    assert [len(request.tools) for request in acts.model_requests] == [2, 2, 0]


async def test_turns_that_find_nothing_new_are_a_runaway(env: WorkflowEnvironment) -> None:
    acts = ScriptedActivities(turns=distinct_turns(10), same_results=True)
    result, _ = await run(env, acts, max_iterations=20)
    assert result.status == TaskStatus.failed
    [finished] = acts.finished
    assert finished.error_code == RUNAWAY_DETECTED
    assert finished.details is not None and finished.details["kind"] == "stalled"
    # the first turn's result is new; the next four repeat it
    assert len(acts.model_requests) == 5


async def test_a_prompt_that_cannot_fit_fails_with_context_exceeded(
    env: WorkflowEnvironment,
) -> None:
    acts = ScriptedActivities(turns=["never"])

    @activity.defn(name="model_turn")
    async def too_long(request: ModelTurnRequest) -> ModelTurnResult:
        raise ApplicationError(
            "the prompt is 9000 tokens; scripted takes at most 7168",
            type=CONTEXT_EXCEEDED,
            non_retryable=True,
        )

    others = [a for a in acts.all() if getattr(a, "__name__", "") != "model_turn"]
    result_error = None
    try:
        await run(env, acts, activities=[*others, too_long])
    except Exception as exc:  # the workflow fails after recording the task's failure
        result_error = exc
    assert result_error is not None
    [finished] = acts.finished
    assert finished.error_code == "context_exceeded"
    assert "9000 tokens" in (finished.error or "")


async def test_a_conversation_closes_at_the_deadline_not_its_idle_timeout(
    env: WorkflowEnvironment,
) -> None:
    acts = ScriptedActivities(turns=["hello"])
    result, handle = await run(
        env, acts, idle_timeout_seconds=86_400, budgets=Budgets(deadline_seconds=HOUR)
    )
    assert result.status == TaskStatus.succeeded and result.output == "hello"
    history = await handle.fetch_history()
    timers = [
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
        for e in history.events
        if e.HasField("timer_started_event_attributes")
    ]
    assert len(timers) == 1 and HOUR - 60 <= timers[0] <= HOUR  # the idle day, cut to the hour
