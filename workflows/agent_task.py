"""AgentTaskWorkflow: the agent loop. It decides; activities act.

model turn (older turns summarised first when the prompt grows past the threshold) → tool
calls (those a policy holds wait for a human; the rest run at once, concurrently) → next turn,
until the model answers without a tool call, the iteration budget is spent, or a guardrail
stops it. A conversation then waits for the next user message until its idle timeout.
The workflow holds message ids, never message texts, so its history stays small.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.answer_checks import AnswerCheckActivities
    from activities.lifecycle import LifecycleActivities
    from workflows import policies
    from workflows.bookkeeping import store_step
    from workflows.contracts.agents import AgentConfig
    from workflows.contracts.answer_checks import (
        AnswerCheck,
        AnswerCheckRequest,
        AnswerCheckResult,
    )
    from workflows.contracts.approvals import APPROVAL_DECIDED, ApprovalDecided
    from workflows.contracts.budgets import SPEND_LIMIT
    from workflows.contracts.lifecycle import BeginTaskRequest, BeginTaskResult, FinishTaskRequest
    from workflows.contracts.memory import CONTEXT_EXCEEDED
    from workflows.contracts.messages import USER_MESSAGE_ADDED, UserMessageAdded
    from workflows.contracts.tasks import (
        AGENT_TASK_WORKFLOW,
        AgentTaskInput,
        AgentTaskResult,
        TaskStatus,
    )
    from workflows.contracts.tool_calls import ToolCall, ToolCallResult
    from workflows.failures import public_failure
    from workflows.guardrails import Guardrails, Stop
    from workflows.memory import model_turn
    from workflows.task_status import set_status
    from workflows.tool_call_round import ToolCallRound

LONG_TASKS_PATCH = "long-tasks"  # summaries, budgets, runaway detection (histories before: off)
# a model that repeats its last calls is offered no tools on the next turn, so it answers
ANSWER_AFTER_REPEAT_PATCH = "answer-after-repeat"
# ... and an answer ends a run of repeats (a follow-up asking for the same call is none)
ANSWER_ENDS_REPEATS_PATCH = "answer-ends-repeats"


@workflow.defn(name=AGENT_TASK_WORKFLOW)
class AgentTaskWorkflow:
    def __init__(self) -> None:
        self._decisions: dict[str, ApprovalDecided] = {}
        self._new_messages: list[int] = []
        self._seen_messages: set[int] = set()

    @workflow.signal(name=APPROVAL_DECIDED)
    def approval_decided(self, decision: ApprovalDecided) -> None:
        """The gateway re-sends decisions it is unsure were delivered: keep the first."""
        self._decisions.setdefault(decision.approval_id, decision)

    @workflow.signal(name=USER_MESSAGE_ADDED)
    def user_message_added(self, added: UserMessageAdded) -> None:
        if added.message_id not in self._seen_messages:
            self._seen_messages.add(added.message_id)
            self._new_messages.append(added.message_id)

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
            message = public_failure(exc)
            code, details = "step_failed", None
            if isinstance(cause, ApplicationError) and cause.type == CONTEXT_EXCEEDED:
                code = "context_exceeded"
            if isinstance(cause, ApplicationError) and cause.type == SPEND_LIMIT:
                code, details = SPEND_LIMIT, _first_detail(cause)
            await self._finish(
                task, TaskStatus.failed, error=message, error_code=code, details=details
            )
            raise ApplicationError(f"task failed: {message}", non_retryable=True) from exc

    async def _loop(self, task: AgentTaskInput) -> AgentTaskResult:
        agent = task.agent
        message_ids = list(task.message_ids)
        self._seen_messages.update(message_ids)
        if not message_ids:
            begun = await self._begin(task)
            if begun.final_status is not None:
                return AgentTaskResult(task_id=task.task_id, status=begun.final_status)
            message_ids = begun.message_ids

        iteration, budget_start, first_iteration = task.iteration, task.budget_start, task.iteration
        guarded = workflow.patched(LONG_TASKS_PATCH)
        guard = Guardrails(agent, task.spent, workflow.now())
        summarised_at: int | None = None
        checked_from = -1  # the answers to the request given at this iteration were checked
        answer_now = False
        while iteration - budget_start < agent.max_iterations:
            message_ids.extend(self._take_new_messages())
            if self._should_continue_as_new(iteration - first_iteration):
                workflow.continue_as_new(
                    task.model_copy(
                        update={
                            "message_ids": message_ids,
                            "iteration": iteration,
                            "budget_start": budget_start,
                            "spent": guard.spent,
                        }
                    )
                )
            if guarded and (stop := guard.before_turn(workflow.now())):
                return await self._stop(task, stop, iteration)
            offer_tools, answer_now = not answer_now, False  # held to an answer for one turn
            turn = await model_turn(task, iteration, message_ids, summarised_at, offer_tools)
            message_ids = [*turn.message_ids, turn.result.message_id]
            if turn.summary is not None:
                summarised_at = iteration
                summary = turn.summary
                guard.count_summary(
                    summary.prompt_tokens + summary.completion_tokens, summary.cost_usd
                )
            iteration += 1
            stop = guard.after_turn(turn.result)
            if guarded and stop:
                return await self._stop(task, stop, iteration)
            if turn.result.tool_calls:
                tool_calls = ToolCallRound(
                    task, iteration - 1, turn.result, message_ids, self._decisions
                )
                results = await tool_calls.run()
                message_ids.extend(result.message_id for result in results)
                stop = guard.after_results([result.digest for result in results])
                if guarded and stop:
                    return await self._stop(task, stop, iteration)
                answer_now = (
                    guard.repeated_calls() and workflow.patched(ANSWER_AFTER_REPEAT_PATCH)
                ) or _answer_in_hand(agent, turn.result.tool_calls, results)
                continue
            if workflow.patched(ANSWER_ENDS_REPEATS_PATCH):
                guard.answered()
            if agent.answer_check is not None and checked_from < budget_start:
                checked_from = budget_start  # once per request: a second answer is taken
                reminder = await self._check_answer(task, iteration - 1, message_ids)
                if reminder is not None:
                    message_ids.append(reminder)
                    continue
            output = turn.result.final_text or ""
            waiting_limit = guard.seconds_left(workflow.now()) if guarded else None
            if self._new_messages or await self._await_next_message(
                task, iteration, output, waiting_limit
            ):
                budget_start = iteration  # each user message gets the full budget
                continue
            await self._finish(task, TaskStatus.succeeded, output=output)
            return AgentTaskResult(
                task_id=task.task_id,
                status=TaskStatus.succeeded,
                output=output,
                iterations=iteration,
            )

        error = (
            f"the agent used all {agent.max_iterations} iterations without a final answer; "
            f"the partial transcript is at /v1/tasks/{task.task_id}/messages"
        )
        await self._finish(task, TaskStatus.failed, error=error, error_code="max_iterations")
        return AgentTaskResult(
            task_id=task.task_id, status=TaskStatus.failed, error=error, iterations=iteration
        )

    async def _check_answer(
        self, task: AgentTaskInput, iteration: int, message_ids: list[int]
    ) -> int | None:
        """The reminder to give the model when its answer misses a part of the request."""
        assert task.agent.answer_check is not None
        request = AnswerCheckRequest(
            task_id=task.task_id,
            iteration=iteration,
            message_ids=message_ids,
            check=task.agent.answer_check,
            model=task.agent.classify_model,
        )
        checked: AnswerCheckResult
        if request.check is AnswerCheck.model:  # a model call: not a quick bookkeeping step
            try:
                checked = await workflow.execute_activity_method(
                    AnswerCheckActivities.check_answer, request, **policies.MODEL_CHECK_STEP
                )
            except ActivityError:  # a judge that cannot judge never holds an answer
                workflow.logger.warning("the answer check failed; the answer is taken")
                return None
        else:
            checked = await store_step(AnswerCheckActivities.check_answer, request)
        return checked.reminder_message_id

    async def _stop(self, task: AgentTaskInput, stop: Stop, iteration: int) -> AgentTaskResult:
        """A guardrail ended the task: failed, with the figures; the transcript stays."""
        error = f"{stop.message}; the partial transcript is at /v1/tasks/{task.task_id}/messages"
        await self._finish(
            task, TaskStatus.failed, error=error, error_code=stop.code, details=stop.details
        )
        return AgentTaskResult(
            task_id=task.task_id, status=TaskStatus.failed, error=error, iterations=iteration
        )

    async def _begin(self, task: AgentTaskInput) -> BeginTaskResult:
        """Begin once the tenant has a free slot. While it has none, wait on a durable timer
        (no worker slot held) and ask again; a cancel during the wait ends the task."""
        request = BeginTaskRequest(
            task_id=task.task_id, system_prompt=task.agent.system_prompt, admission=task.admission
        )
        while True:
            begun = await store_step(
                LifecycleActivities.begin_task,
                request,
            )
            if begun.wait_seconds is None:
                return begun
            await workflow.sleep(begun.wait_seconds)
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(task)  # a long wait must not grow one history forever

    async def _await_next_message(
        self, task: AgentTaskInput, iteration: int, output: str, limit: float | None
    ) -> bool:
        """A conversation stays open after an answer; True when the user wrote again. It
        closes at its idle timeout, or sooner at the task's deadline (`limit` seconds away)."""
        idle = task.agent.idle_timeout_seconds
        if not idle:
            return False
        wait = float(idle) if limit is None else min(float(idle), limit)
        if wait <= 0:
            return False
        await set_status(task.task_id, TaskStatus.waiting_input, output=output)
        try:
            await workflow.wait_condition(lambda: bool(self._new_messages), timeout=wait)
        except TimeoutError:
            return False
        await set_status(task.task_id, TaskStatus.running)
        return True

    def _take_new_messages(self) -> list[int]:
        taken, self._new_messages = self._new_messages, []
        return taken

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
        details: dict[str, Any] | None = None,
    ) -> None:
        await store_step(
            LifecycleActivities.finish_task,
            FinishTaskRequest(
                task_id=task.task_id,
                status=status,
                output=output,
                error=error,
                error_code=error_code,
                details=details,
            ),
        )


def _first_detail(error: ApplicationError) -> dict[str, Any] | None:
    """The figures an activity's error carries as its first detail, if they are a dict."""
    details = error.details
    return details[0] if details and isinstance(details[0], dict) else None


def _answer_in_hand(
    agent: AgentConfig, calls: list[ToolCall], results: list[ToolCallResult]
) -> bool:
    """The turn's calls all worked and one is of a tool the answer rests on (`answer_after`):
    the next turn answers (a small model asks for the query again, or a worse one, instead)."""
    named = any(call.name in agent.answer_after for call in calls)
    return named and not any(result.is_error for result in results)
