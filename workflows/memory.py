"""A model turn that keeps its prompt within the context budget: when the prompt would pass
the agent's summary threshold, the turn sends nothing, the older turns are summarised
(activities/memory.py), and the turn is asked again with the shorter transcript.
Deterministic workflow code, used by AgentTaskWorkflow.

A turn is a regular activity, or, on a pool with `model_turns: local` (deploy/pools.yaml), a
local activity run inside the workflow task that asked for it. Either way its reply is recorded
in Postgres under its step key before the turn returns, so a turn run again (a retry, a worker
that died, a local activity's result lost with its workflow task) finds it and never pays twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.llm import LlmActivities
    from activities.memory import MemoryActivities
    from workflows import policies
    from workflows.contracts.agents import ToolChoice
    from workflows.contracts.memory import SummarizeRequest, SummarizeResult
    from workflows.contracts.model_turns import ModelTurnRequest, ModelTurnResult
    from workflows.contracts.tasks import AgentTaskInput
    from workflows.failures import failed_step


@dataclass
class Turn:
    result: ModelTurnResult
    message_ids: list[int]  # the transcript the turn saw (shorter after a summary)
    summary: SummarizeResult | None = None


async def model_turn(
    task: AgentTaskInput,
    iteration: int,
    message_ids: list[int],
    summarised_at: int | None,
    offer_tools: bool = True,
) -> Turn:
    """`summarised_at`: the iteration of the latest summary. For `keep_recent` turns after
    it, a summary is made only when the prompt would not fit at all: summarising then would
    fold a turn or two into it at the price of a model call each time (a prompt whose fixed
    part is near the threshold would otherwise be summarised on every turn).
    `offer_tools` False: the model is offered none, so its reply is the answer."""
    agent = task.agent
    memory = agent.memory
    threshold = memory.summarize_threshold if memory is not None else None
    if memory is not None and summarised_at is not None:
        if iteration - summarised_at < memory.keep_recent:
            threshold = agent.context.prompt_tokens if agent.context is not None else None
    result = await _ask(task, iteration, message_ids, threshold, offer_tools)
    if not result.needs_summary or memory is None:
        return Turn(result, message_ids)
    summary = await workflow.execute_activity_method(
        MemoryActivities.summarize,
        SummarizeRequest(
            task_id=task.task_id,
            iteration=iteration,
            model=agent.model,
            message_ids=message_ids,
            memory=memory,
            tokens_before=result.counted_tokens or 0,
            tools=agent.tools,
            tool_call_format=agent.tool_call_format.value,
            max_tool_result_chars=agent.max_tool_result_chars,
        ),
        start_to_close_timeout=policies.MODEL_CALL_TIMEOUT,
        heartbeat_timeout=policies.MODEL_CALL_HEARTBEAT,
        retry_policy=policies.MODEL_CALL_RETRY,
    )
    # asked again without a threshold: the summary is what could be done; a prompt still over
    # the context budget now fails the turn with ContextExceeded
    result = await _ask(task, iteration, summary.message_ids, None, offer_tools)
    return Turn(result, summary.message_ids, summary)


async def _ask(
    task: AgentTaskInput,
    iteration: int,
    message_ids: list[int],
    threshold: int | None,
    offer_tools: bool,
) -> ModelTurnResult:
    agent = task.agent
    request = ModelTurnRequest(
        task_id=task.task_id,
        iteration=iteration,
        model=agent.model,
        message_ids=message_ids,
        tools=agent.tools if offer_tools else [],
        tool_call_format=agent.tool_call_format,
        temperature=agent.temperature,
        max_tokens=agent.max_tokens,
        priority=task.priority,
        context=agent.context,
        summarize_threshold=threshold,
        max_tool_result_chars=agent.max_tool_result_chars,
        first_calls=agent.first_calls if offer_tools else [],
        tool_choice=agent.tool_choice if offer_tools else ToolChoice.auto,
        show_calls=agent.show_calls,
        fan_out=agent.fan_out if offer_tools else None,
        cite_from=agent.cite_from,
    )
    if agent.local_model_turns:
        try:
            return await workflow.execute_local_activity_method(
                LlmActivities.model_turn, request, **policies.LOCAL_MODEL_TURN
            )
        except FailureError as exc:
            if isinstance(exc, ActivityError) or is_cancelled_exception(exc):
                raise
            raise failed_step("model_turn") from exc  # the task fails saying why
    return await workflow.execute_activity_method(
        LlmActivities.model_turn,
        request,
        start_to_close_timeout=policies.MODEL_CALL_TIMEOUT,
        heartbeat_timeout=policies.MODEL_CALL_HEARTBEAT,
        retry_policy=policies.MODEL_CALL_RETRY,
    )
