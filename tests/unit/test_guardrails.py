"""Runaway detection across the requests of a conversation: an answer ends a run of repeated
calls and of stalled turns, so a follow-up that needs the same call again starts afresh."""

from __future__ import annotations

from datetime import UTC, datetime

from workflows.contracts.agents import AgentConfig
from workflows.contracts.budgets import Spent
from workflows.contracts.model_turns import ModelTurnResult
from workflows.contracts.tool_calls import ToolCall
from workflows.guardrails import Guardrails

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def time_turn() -> ModelTurnResult:
    call = ToolCall(id="t", name="current_time", arguments={"timezone": "UTC"})
    return ModelTurnResult(message_id=1, tool_calls=[call])


def test_an_answer_ends_a_run_of_repeats_and_of_stalled_turns() -> None:
    guard = Guardrails(AgentConfig(name="a", tools=["current_time"]), Spent(), NOW)
    for _ in range(2):  # the same call, the same result: a repeat and a stalled turn
        assert guard.after_turn(time_turn()) is None
        assert guard.after_results(["same-digest"]) is None
    assert guard.repeated_calls() and guard.spent.stalled_turns == 1

    guard.answered()

    assert not guard.repeated_calls() and guard.spent.stalled_turns == 0
    assert guard.after_turn(time_turn()) is None and guard.spent.repeats == 1
