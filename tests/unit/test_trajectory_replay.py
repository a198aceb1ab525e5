"""Trajectory replay without a stack: a case read from a task's REST records, and the
comparison of a replayed trajectory with it (evals/replay/)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evals.replay.cases import (
    Case,
    CaseError,
    ToolCallRecord,
    Trajectory,
    new_case,
    read_cases,
    trajectory_of,
    write_case,
)
from evals.replay.compare import (
    all_gold_pass,
    compare,
    match_answer,
    normalise_answer,
    numbers_in,
    report,
    summary,
)

TASK = {
    "id": "0b6e1c1e-0000-4000-8000-000000000001",
    "agent": "assistant",
    "model": "agent-default",
    "input": "compute 17*23, then add 1000",
    "status": "succeeded",
    "result": "The answer is 1,391.",
    "error": None,
    "usage": {"llm_calls": 3, "tool_calls": 2},
}


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"id": 0, "type": kind, "data": data}


EVENTS = [
    event("status", status="running"),
    event("llm_call", iteration=0, model="agent-default", tool_calls=["calculator", "calculator"]),
    # the second call of the turn finished first: its result was recorded first
    event("tool_call", iteration=0, call_id="c2", name="calculator",
          arguments={"expression": "1"}, result="1"),
    event("tool_call", iteration=0, call_id="c1", name="calculator",
          arguments={"expression": "17*23"}, result="391"),
    event("llm_call", iteration=1, model="agent-default", tool_calls=["calculator"]),
    event("tool_call", iteration=1, call_id="c3", name="calculator",
          arguments={"expression": "391+1000"}, result="1391", is_error=False),
    event("llm_call", iteration=2, model="agent-default", tool_calls=[]),
    event("status", status="succeeded"),
]  # fmt: skip
MESSAGES = [
    {"role": "system", "content": "You are…"},
    {"role": "user", "content": TASK["input"]},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "name": "calculator", "arguments": {"expression": "17*23"}},
        {"id": "c2", "name": "calculator", "arguments": {"expression": "1"}}]},
    {"role": "tool", "content": "391"},
    {"role": "tool", "content": "1"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c3", "name": "calculator", "arguments": {"expression": "391+1000"}}]},
    {"role": "tool", "content": "1391"},
    {"role": "assistant", "content": "The answer is 1,391.", "tool_calls": None},
]  # fmt: skip


def saved(**changes: Any) -> Case:
    case = new_case(trajectory_of(TASK, EVENTS, MESSAGES), "calc", TASK["id"], gold=True)
    return case.model_copy(update=changes)


def test_a_case_holds_replies_and_tool_calls_in_the_order_the_model_asked() -> None:
    case = saved()

    assert (case.agent, case.model, case.status) == ("assistant", "agent-default", "succeeded")
    assert case.final_answer == "The answer is 1,391." and case.gold
    assert [reply.iteration for reply in case.model_replies] == [0, 1, 2]
    assert case.model_replies[0].tool_calls[1] == {
        "name": "calculator",
        "arguments": {"expression": "1"},
    }
    assert [call.arguments["expression"] for call in case.tool_calls] == ["17*23", "1", "391+1000"]
    assert [call.result for call in case.tool_calls] == ["391", "1", "1391"]
    assert case.usage == {"llm_calls": 3, "tool_calls": 2}


def test_a_delegation_is_a_delegate_call_with_the_models_arguments() -> None:
    events = [
        event("llm_call", iteration=0, model="m", tool_calls=["delegate"]),
        event("delegation", iteration=0, call_id="d1", agent="helper", result="done"),
    ]
    call = {"id": "d1", "name": "delegate", "arguments": {"agent": "helper", "task": "x"}}
    messages = [{"role": "assistant", "content": None, "tool_calls": [call]}]

    [call] = trajectory_of(TASK, events, messages).tool_calls

    assert call == ToolCallRecord(
        iteration=0, name="delegate", arguments={"agent": "helper", "task": "x"}, result="done"
    )


def test_the_same_trajectory_matches_exactly() -> None:
    comparison = compare(saved(), saved())

    assert comparison.same_trajectory and comparison.answer == "exact" and comparison.passed
    assert comparison.differences == [] and comparison.diff == []
    assert report(comparison)[0] == "== calc (gold): same trajectory, same answer"


def test_whitespace_does_not_count_and_the_same_numbers_match_loosely() -> None:
    assert normalise_answer("  The answer\n is   1,391. ") == "The answer is 1,391."
    assert match_answer("The answer is 1,391.", "The answer\n\nis 1,391.") == "exact"
    assert match_answer("The answer is 1,391.", "1391") == "numbers"
    assert match_answer("The answer is 1,391.", "It is 391.") == "different"
    assert match_answer("no numbers", "none either") == "different"
    assert match_answer(None, None) == "exact"
    assert numbers_in("-3, 42.0 and 1,234,567 (CO2, x86)") == [
        Decimal(-3),
        Decimal(42),
        Decimal(1234567),
    ]


def test_a_different_tool_sequence_fails_a_gold_case_with_a_diff() -> None:
    stopped = saved().model_copy(
        update={"tool_calls": saved().tool_calls[:2], "final_answer": "391"}
    )

    comparison = compare(saved(), stopped)

    assert not comparison.same_tools and not comparison.passed
    assert comparison.answer == "different"
    whats = [what for what, _, _ in comparison.differences]
    assert whats == ["tools", "answer", "numbers"]
    assert comparison.differences[0][1] == "calculator → calculator → calculator"
    assert '-tool calculator {"expression": "391+1000"}' in comparison.diff
    assert "-answer The answer is 1,391." in comparison.diff and "+answer 391" in comparison.diff
    lines = report(comparison, "new-task")
    assert lines[0].startswith("== calc (gold) → task new-task: different trajectory")
    assert lines[0].endswith("FAIL")
    assert not all_gold_pass([comparison])
    assert summary([comparison]) == "1 cases: 0 same trajectory, 0 same answer; gold: 0 of 1 pass"


def test_other_arguments_are_reported_but_keep_a_gold_case() -> None:
    calls = [c.model_copy() for c in saved().tool_calls]
    calls[0] = calls[0].model_copy(update={"arguments": {"expression": "17 * 23"}})
    comparison = compare(saved(), saved(tool_calls=calls))

    assert comparison.same_tools and not comparison.same_arguments and comparison.passed
    assert comparison.differences == [
        ("call 1 calculator", '{"expression": "17*23"}', '{"expression": "17 * 23"}')
    ]


def test_a_case_not_gold_never_fails_the_run() -> None:
    comparison = compare(saved(gold=False), Trajectory(agent="a", input="x", status="not run"))

    assert not comparison.passed and all_gold_pass([comparison])
    assert ("status", "succeeded", "not run") in comparison.differences


def test_cases_are_written_read_back_and_named_safely(tmp_path: Path) -> None:
    path = write_case(saved(), tmp_path / "saved")

    assert path == tmp_path / "saved" / "calc.json"
    [back] = read_cases(tmp_path / "saved")
    assert back == saved().model_copy(update={"saved_at": back.saved_at})
    with pytest.raises(CaseError, match="exists"):
        write_case(saved(), tmp_path / "saved")
    with pytest.raises(CaseError, match="no saved case other"):
        read_cases(tmp_path / "saved", ["other"])
    with pytest.raises(CaseError, match="case name"):
        new_case(saved(), "../escape", "id", gold=False)
    (tmp_path / "saved" / "broken.json").write_text("{not json")
    with pytest.raises(CaseError, match="broken.json is not a saved case"):
        read_cases(tmp_path / "saved")
    with pytest.raises(CaseError, match="not a folder"):
        read_cases(tmp_path / "missing")
