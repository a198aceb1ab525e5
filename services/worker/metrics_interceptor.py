"""Counts every activity a worker runs, from outside the activity code.

Temporal hands each activity's input to the interceptor and its result back through it, so the
activities stay free of metrics: a model turn's result holds its tokens, cost and duration, a
tool call's request its tool, the task's finish its status and error code. A result rebuilt by
a retry (the first attempt recorded it, then died) is counted by the retry: the first attempt
never returned here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from services.worker.metrics import STOP_CODES, WorkerMetrics, error_code_label
from workflows.contracts.approvals import ExpireApprovalResult, RequestApprovalsRequest
from workflows.contracts.lifecycle import FinishTaskRequest
from workflows.contracts.memory import SummarizeRequest, SummarizeResult
from workflows.contracts.model_turns import ModelTurnRequest, ModelTurnResult
from workflows.contracts.tool_calls import ToolCallRequest, ToolCallResult

logger = logging.getLogger(__name__)

POOL_QUEUE_PREFIX = "agentry-"  # workflows.contracts.tasks.task_queue_for_pool


class ActivityMetrics(Interceptor):
    """`tools`: the tool names a call may be labelled with; a name the model made up is
    counted as `unknown`, so it cannot add series."""

    def __init__(self, metrics: WorkerMetrics, tools: Collection[str]) -> None:
        self._metrics = metrics
        self._tools = frozenset(tools)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self)

    def record(
        self,
        task_queue: str,
        activity_type: str,
        request: Any,
        result: Any,
        outcome: str,
        seconds: float,
    ) -> None:
        """One finished attempt of `activity_type`; `outcome`: completed, failed, cancelled."""
        pool = task_queue.removeprefix(POOL_QUEUE_PREFIX)
        metrics = self._metrics
        metrics.activity_seconds.labels(pool, activity_type, outcome).observe(seconds)
        if isinstance(request, ToolCallRequest):
            metrics.tool_call_seconds.labels(
                pool, self._tool(request.call.name), _tool_outcome(request, result)
            ).observe(seconds)
        elif isinstance(result, ModelTurnResult) and isinstance(request, ModelTurnRequest):
            self._model_turn(pool, request.model, result)
        elif isinstance(result, SummarizeResult) and isinstance(request, SummarizeRequest):
            self._usage(pool, request.memory.model, "summary", result)
        elif isinstance(request, RequestApprovalsRequest) and outcome == "completed":
            for needed in request.needed:
                metrics.approvals_requested.labels(pool, self._tool(needed.call.name)).inc()
        elif isinstance(result, ExpireApprovalResult):
            metrics.approvals_expired.labels(pool, result.outcome.value).inc()
        elif isinstance(request, FinishTaskRequest) and outcome == "completed":
            code = error_code_label(request.error_code)
            metrics.tasks_finished.labels(pool, request.status.value, code).inc()
            if code in STOP_CODES:
                metrics.task_stops.labels(pool, code).inc()

    def _tool(self, name: str) -> str:
        return name if name in self._tools else "unknown"

    def _model_turn(self, pool: str, model: str, result: ModelTurnResult) -> None:
        if result.needs_summary:  # nothing was sent: the prompt is summarised first
            return
        if result.duration_ms is not None:
            self._metrics.model_call_seconds.labels(pool, model).observe(result.duration_ms / 1000)
        self._usage(pool, model, "turn", result)
        if result.cached_tokens:
            self._metrics.model_tokens.labels(pool, model, "turn", "cached").inc(
                result.cached_tokens
            )

    def _usage(
        self, pool: str, model: str, purpose: str, result: ModelTurnResult | SummarizeResult
    ) -> None:
        tokens = self._metrics.model_tokens
        tokens.labels(pool, model, purpose, "prompt").inc(result.prompt_tokens)
        tokens.labels(pool, model, purpose, "completion").inc(result.completion_tokens)
        self._metrics.model_cost.labels(pool, model, purpose).inc(max(result.cost_usd, 0.0))


def _tool_outcome(request: ToolCallRequest, result: Any) -> str:
    if not isinstance(result, ToolCallResult):
        return "failed"
    if request.rejection is not None:
        return "rejected"
    return "error" if result.is_error else "ok"


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, meter: ActivityMetrics) -> None:
        super().__init__(next)
        self._meter = meter

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        request = input.args[0] if input.args else None
        started = time.monotonic()
        result: Any = None
        outcome = "failed"
        try:
            result = await super().execute_activity(input)
            outcome = "completed"
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            info = activity.info()
            seconds = time.monotonic() - started
            try:
                self._meter.record(
                    info.task_queue, info.activity_type, request, result, outcome, seconds
                )
            except Exception:  # a metric must never fail a step
                logger.exception("counting activity %s failed", info.activity_type)
