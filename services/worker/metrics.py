"""What a worker process counts for Prometheus: its steps (activities), model calls with their
tokens and cost, tool calls, approvals asked for and expired, finished tasks and guardrail
stops, and admission holds.

One registry per process, filled by the activity interceptor (metrics_interceptor.py) and the
metered admission gate (metered_admission.py), served by metrics_server.py. Labels are bounded
by the code and the deployment (pool, model group, activity, tool, status, error code): never a
tenant, task or free text, so the series stay few and no tenant's data shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workflows.contracts.budgets import BUDGET_EXCEEDED, RUNAWAY_DETECTED, SPEND_LIMIT

# no `_created` series beside every counter and histogram
disable_created_metrics()  # type: ignore[no-untyped-call]

STOP_CODES = frozenset({BUDGET_EXCEEDED, SPEND_LIMIT, RUNAWAY_DETECTED})
"""Error codes of tasks a guardrail stopped (budgets, spend limit, runaway detection)."""

ERROR_CODES = STOP_CODES | {"context_exceeded", "max_iterations", "step_failed"}
"""Codes kept as label values; any other code is counted as `other`."""

# a step is a database write (milliseconds) up to a model call or tool run (minutes)
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
MODEL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600)
HOLD_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.activity_seconds = Histogram(
            "agentry_activity_duration_seconds",
            "Steps of the agent loop (Temporal activities), from start to result, by outcome.",
            ["pool", "activity", "outcome"],
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self.model_call_seconds = Histogram(
            "agentry_model_call_duration_seconds",
            "Model calls of agent turns: request to reply at the LiteLLM proxy.",
            ["pool", "model"],
            buckets=MODEL_BUCKETS,
            registry=registry,
        )
        self.model_tokens = Counter(
            "agentry_model_tokens",
            "Tokens of model calls; kind: prompt, completion, or cached (prompt tokens the "
            "server's prefix cache served); purpose: turn or summary.",
            ["pool", "model", "purpose", "kind"],
            registry=registry,
        )
        self.model_cost = Counter(
            "agentry_model_cost_usd",
            "What model calls cost in US dollars, as the LiteLLM proxy priced them.",
            ["pool", "model", "purpose"],
            registry=registry,
        )
        self.tool_call_seconds = Histogram(
            "agentry_tool_call_duration_seconds",
            "Tool call steps, run and recorded; outcome: ok, error (the model reads an error), "
            "rejected (by an approver, not run) or failed (the step failed and is retried).",
            ["pool", "tool", "outcome"],
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self.tasks_finished = Counter(
            "agentry_tasks_finished",
            "Tasks that reached a final status, with their error code ('' when none).",
            ["pool", "status", "code"],
            registry=registry,
        )
        self.task_stops = Counter(
            "agentry_task_stops",
            "Tasks stopped by a guardrail: budget_exceeded, spend_limit or runaway_detected.",
            ["pool", "code"],
            registry=registry,
        )
        self.approvals_requested = Counter(
            "agentry_approvals_requested",
            "Tool calls held for a person's decision, by tool.",
            ["pool", "tool"],
            registry=registry,
        )
        self.approvals_expired = Counter(
            "agentry_approvals_expired",
            "Approval deadlines that passed, by what the approval became: timed_out (rejected), "
            "escalated, or the decision that beat the deadline.",
            ["pool", "outcome"],
            registry=registry,
        )
        self.admission_hold_seconds = Histogram(
            "agentry_model_admission_hold_seconds",
            "Model calls held because their model server was saturated (the model_call_held "
            "event): how long, why (queue, kv_cache, headroom) and how it ended (admitted, "
            "timed_out: the slot was given back and the call is retried).",
            ["model", "cause", "outcome"],
            buckets=HOLD_BUCKETS,
            registry=registry,
        )

    def watch_held_calls(self, models: Iterable[str], waiting: Callable[[str], int]) -> None:
        """Show how many model calls are held right now per model, read at scrape time."""
        self.registry.register(_HeldCalls(sorted(models), waiting))


def error_code_label(code: str | None) -> str:
    if not code:
        return ""
    return code if code in ERROR_CODES else "other"


class _HeldCalls(Collector):
    def __init__(self, models: list[str], waiting: Callable[[str], int]) -> None:
        self._models = models
        self._waiting = waiting

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for model in self._models:
            family.add_metric([model], self._waiting(model))
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "agentry_model_calls_held",
            "Model calls waiting for their saturated model server right now.",
            labels=["model"],
        )
