"""Guardrails of the agent loop: the task's budgets, and runaway detection (the same call
again and again, or turns that find nothing new). Deterministic workflow code: it only counts
what the loop hands it; the loop ends the task with the `Stop` it returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts.agents import AgentConfig
    from workflows.contracts.budgets import BUDGET_EXCEEDED, RUNAWAY_DETECTED, Spent
    from workflows.contracts.model_turns import ModelTurnResult
    from workflows.contracts.tool_calls import ToolCall

DIGESTS_KEPT = 200  # recent distinct tool results remembered to tell new ones from repeats


@dataclass(frozen=True)
class Stop:
    """Why the task must end now: `code` is its error code, `details` the figures."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


class Guardrails:
    def __init__(self, agent: AgentConfig, spent: Spent, now: datetime) -> None:
        self._agent = agent
        self.spent = spent.model_copy(deep=True)
        if self.spent.started_at is None:
            self.spent.started_at = now

    def before_turn(self, now: datetime) -> Stop | None:
        """A budget already spent stops the task before it pays for another model call."""
        budgets, spent = self._agent.budgets, self.spent
        if budgets.max_model_calls is not None and spent.model_calls >= budgets.max_model_calls:
            return _budget(
                "max_model_calls",
                budgets.max_model_calls,
                spent.model_calls,
                f"the task made {spent.model_calls} model calls",
            )
        if budgets.max_tokens is not None and spent.tokens >= budgets.max_tokens:
            return _budget(
                "max_tokens",
                budgets.max_tokens,
                spent.tokens,
                f"the task used {spent.tokens} prompt and completion tokens",
            )
        if budgets.max_cost_usd is not None and spent.cost_usd >= budgets.max_cost_usd:
            return _budget(
                "max_cost_usd",
                budgets.max_cost_usd,
                round(spent.cost_usd, 6),
                f"the task's model calls cost ${spent.cost_usd:.6f}",
            )
        if budgets.deadline_seconds is not None and spent.started_at is not None:
            elapsed = int((now - spent.started_at).total_seconds())
            if elapsed >= budgets.deadline_seconds:
                return _budget(
                    "deadline_seconds",
                    budgets.deadline_seconds,
                    elapsed,
                    f"the task has run for {elapsed}s",
                )
        return None

    def seconds_left(self, now: datetime) -> float | None:
        """Until the deadline, for waits that must not outlast it."""
        deadline, started = self._agent.budgets.deadline_seconds, self.spent.started_at
        if deadline is None or started is None:
            return None
        return max(deadline - (now - started).total_seconds(), 0.0)

    def count_summary(self, tokens: int, cost_usd: float) -> None:
        """Tokens and cost spent outside model turns (summaries) count against the same
        budgets."""
        self.spent.tokens += tokens
        self.spent.cost_usd += cost_usd

    def after_turn(self, turn: ModelTurnResult) -> Stop | None:
        """Count the turn; stop a turn asking for too many calls or the same calls again."""
        self.spent.model_calls += 0 if turn.planned else 1
        self.spent.tokens += turn.prompt_tokens + turn.completion_tokens
        self.spent.cost_usd += turn.cost_usd
        calls = turn.tool_calls
        if not calls:
            return None
        limit = self._agent.budgets.max_tool_calls_per_turn
        if limit is not None and len(calls) > limit:
            return _budget(
                "max_tool_calls_per_turn",
                limit,
                len(calls),
                f"the model asked for {len(calls)} tool calls in one turn",
            )
        self.spent.tool_calls += len(calls)
        total = self._agent.budgets.max_tool_calls
        if total is not None and self.spent.tool_calls > total:
            return _budget(
                "max_tool_calls",
                total,
                self.spent.tool_calls,
                f"the model asked for {self.spent.tool_calls} tool calls in all",
            )
        signature = _signature(calls)
        spent = self.spent
        spent.repeats = spent.repeats + 1 if signature == spent.last_calls else 1
        spent.last_calls = signature
        repeated = self._agent.runaway.repeated_call_limit
        if spent.repeats >= repeated:
            return Stop(
                RUNAWAY_DETECTED,
                f"the model asked for the same tool call {spent.repeats} turns in a row "
                f"(limit {repeated}): {signature[:300]}",
                {
                    "kind": "repeated_call",
                    "calls": json.loads(signature),
                    "turns_in_a_row": spent.repeats,
                    "limit": repeated,
                },
            )
        return None

    def answered(self) -> None:
        """A turn with no calls ends a run of repeats and of stalled turns: a follow-up that
        needs the same call again (the time, once more) is neither."""
        self.spent.repeats, self.spent.last_calls, self.spent.stalled_turns = 0, "", 0

    def repeated_calls(self) -> bool:
        """The last turn asked for the very calls of the turns before, one repeat short of the
        runaway limit: small models do that instead of answering (an agent that polls on
        purpose raises the limit, and this with it)."""
        return self.spent.repeats >= max(2, self._agent.runaway.repeated_call_limit - 1)

    def after_results(self, digests: list[str]) -> Stop | None:
        """A turn whose results were all seen before is a stalled turn (a result without a
        digest, from a worker before digests, counts as new)."""
        spent = self.spent
        new = [d for d in digests if d not in spent.result_digests]
        if new or not all(digests):
            spent.stalled_turns = 0
            known = spent.result_digests + [d for d in dict.fromkeys(new) if d]
            spent.result_digests = known[-DIGESTS_KEPT:]
            return None
        spent.stalled_turns += 1
        limit = self._agent.runaway.stalled_turn_limit
        if spent.stalled_turns >= limit:
            return Stop(
                RUNAWAY_DETECTED,
                f"{spent.stalled_turns} turns in a row brought no new tool result and no "
                f"answer (limit {limit})",
                {
                    "kind": "stalled",
                    "turns_in_a_row": spent.stalled_turns,
                    "limit": limit,
                    "last_calls": json.loads(spent.last_calls or "[]"),
                },
            )
        return None


def _budget(name: str, limit: float, used: float, what: str) -> Stop:
    return Stop(
        BUDGET_EXCEEDED,
        f"budget {name} reached: {what}; the limit is {limit}",
        {"budget": name, "limit": limit, "used": used},
    )


def _signature(calls: list[ToolCall]) -> str:
    return json.dumps(
        [[call.name, call.arguments] for call in calls], sort_keys=True, ensure_ascii=False
    )
