"""AgentTaskWorkflow: the agent loop. It decides; activities act.

model turn → run the turn's tool calls concurrently → next turn, until the model answers
without a tool call or the iteration budget is spent. The workflow holds message ids, never
message texts, so its history stays small however long the transcript grows.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.llm import LlmActivities
    from activities.store import StoreActivities
    from activities.tools import ToolActivities
    from workflows import policies
    from workflows.contracts import (
        AgentTaskInput,
        AgentTaskResult,
        BeginTaskRequest,
        FinishTaskRequest,
        ModelTurnRequest,
        TaskStatus,
        ToolCallRequest,
    )


@workflow.defn(name=policies.WORKFLOW_NAME)
class AgentTaskWorkflow:
    @workflow.run
    async def run(self, task: AgentTaskInput) -> AgentTaskResult:
        try:
            return await self._loop(task)
        except (asyncio.CancelledError, ActivityError) as exc:
            if is_cancelled_exception(exc):
                # cancelled, possibly while an activity ran: record it, then end as cancelled
                await self._finish(task, TaskStatus.cancelled)
                raise asyncio.CancelledError("task cancelled") from exc
            cause = exc.cause if isinstance(exc, ActivityError) else None
            message = str(cause) if cause is not None else str(exc)
            await self._finish(task, TaskStatus.failed, error=message, error_code="step_failed")
            raise ApplicationError(f"task failed: {message}", non_retryable=True) from exc

    async def _loop(self, task: AgentTaskInput) -> AgentTaskResult:
        agent = task.agent
        message_ids = list(task.message_ids)
        if not message_ids:
            begun = await workflow.execute_activity_method(
                StoreActivities.begin_task,
                BeginTaskRequest(task_id=task.task_id, system_prompt=agent.system_prompt),
                start_to_close_timeout=policies.STORE_TIMEOUT,
                retry_policy=policies.STORE_RETRY,
            )
            if begun.final_status is not None:
                return AgentTaskResult(task_id=task.task_id, status=begun.final_status)
            message_ids = begun.message_ids

        first_iteration = task.iteration
        for iteration in range(task.iteration, agent.max_iterations):
            if self._should_continue_as_new(iteration - first_iteration):
                workflow.continue_as_new(
                    task.model_copy(update={"message_ids": message_ids, "iteration": iteration})
                )
            turn = await workflow.execute_activity_method(
                LlmActivities.model_turn,
                ModelTurnRequest(
                    task_id=task.task_id,
                    iteration=iteration,
                    model=agent.model,
                    message_ids=message_ids,
                    tools=agent.tools,
                    tool_call_format=agent.tool_call_format,
                    temperature=agent.temperature,
                    max_tokens=agent.max_tokens,
                ),
                start_to_close_timeout=policies.MODEL_CALL_TIMEOUT,
                heartbeat_timeout=policies.MODEL_CALL_HEARTBEAT,
                retry_policy=policies.MODEL_CALL_RETRY,
            )
            message_ids.append(turn.message_id)
            if not turn.tool_calls:
                output = turn.final_text or ""
                await self._finish(task, TaskStatus.succeeded, output=output)
                return AgentTaskResult(
                    task_id=task.task_id,
                    status=TaskStatus.succeeded,
                    output=output,
                    iterations=iteration + 1,
                )
            results = await asyncio.gather(
                *(
                    workflow.execute_activity_method(
                        ToolActivities.run_tool,
                        ToolCallRequest(
                            task_id=task.task_id,
                            iteration=iteration,
                            call=call,
                            rejection=turn.invalid_calls.get(call.id),
                        ),
                        start_to_close_timeout=policies.TOOL_CALL_TIMEOUT,
                        heartbeat_timeout=policies.TOOL_CALL_HEARTBEAT,
                        retry_policy=policies.TOOL_CALL_RETRY,
                    )
                    for call in turn.tool_calls
                )
            )
            message_ids.extend(result.message_id for result in results)

        error = (
            f"the agent used all {agent.max_iterations} iterations without a final answer; "
            f"the partial transcript is at /v1/tasks/{task.task_id}/messages"
        )
        await self._finish(task, TaskStatus.failed, error=error, error_code="max_iterations")
        return AgentTaskResult(
            task_id=task.task_id,
            status=TaskStatus.failed,
            error=error,
            iterations=agent.max_iterations,
        )

    @staticmethod
    def _should_continue_as_new(iterations_this_run: int) -> bool:
        if iterations_this_run == 0:
            return False
        return (
            iterations_this_run >= policies.CONTINUE_AS_NEW_AFTER_ITERATIONS
            or workflow.info().is_continue_as_new_suggested()
        )

    async def _finish(
        self,
        task: AgentTaskInput,
        status: TaskStatus,
        output: str | None = None,
        error: str | None = None,
        error_code: str | None = None,
    ) -> None:
        await workflow.execute_activity_method(
            StoreActivities.finish_task,
            FinishTaskRequest(
                task_id=task.task_id,
                status=status,
                output=output,
                error=error,
                error_code=error_code,
            ),
            start_to_close_timeout=policies.STORE_TIMEOUT,
            retry_policy=policies.STORE_RETRY,
        )
