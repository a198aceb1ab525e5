"""Comparing a replayed trajectory with its saved case: the tool sequence (names in order), each
call's arguments, and the final answer (exact after whitespace is normalised, else the same
numbers in it). Pure functions over two trajectories, so the rules are tested without a stack.

A gold case passes when its answer matches and its tools come in the same sequence; arguments
that differ are reported, not failed (a new model may write `17 * 23` for `17*23`)."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from evals.replay.cases import Case, Trajectory

AnswerMatch = Literal["exact", "numbers", "different"]

# 1234, -5, 3.75, 1,234,567 (thousands separators); not digits inside words (CO2, x86)
NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")


def normalise_answer(text: str | None) -> str:
    """Runs of whitespace (line breaks included) become one space; ends are trimmed."""
    return " ".join((text or "").split())


def numbers_in(text: str | None) -> list[Decimal]:
    """The numbers written in `text`, in order, as values: `42.0` and `42` are one number."""
    found = []
    for match in NUMBER.finditer(text or ""):
        try:
            found.append(Decimal(match.group().replace(",", "")).normalize())
        except InvalidOperation:  # pragma: no cover - the pattern only matches numbers
            continue
    return found


def match_answer(saved: str | None, new: str | None) -> AnswerMatch:
    if normalise_answer(saved) == normalise_answer(new):
        return "exact"
    saved_numbers = set(numbers_in(saved))
    if saved_numbers and saved_numbers == set(numbers_in(new)):
        return "numbers"
    return "different"


@dataclass(frozen=True)
class Comparison:
    name: str
    gold: bool
    same_tools: bool  # the same tool names in the same order
    same_arguments: bool  # and every call with the same arguments
    answer: AnswerMatch
    differences: list[tuple[str, str, str]] = field(default_factory=list)  # (what, saved, new)
    diff: list[str] = field(default_factory=list)  # unified, saved → new; empty when equal

    @property
    def same_trajectory(self) -> bool:
        return self.same_tools and self.same_arguments

    @property
    def same_answer(self) -> bool:
        return self.answer != "different"

    @property
    def passed(self) -> bool:
        """What a gold case must keep: its answer and its tool sequence."""
        return self.same_tools and self.same_answer


def compare(saved: Case, new: Trajectory) -> Comparison:
    differences: list[tuple[str, str, str]] = []
    saved_tools = [call.name for call in saved.tool_calls]
    new_tools = [call.name for call in new.tool_calls]
    same_tools = saved_tools == new_tools
    if not same_tools:
        differences.append(("tools", _names(saved_tools), _names(new_tools)))
    same_arguments = same_tools
    for n in range(max(len(saved.tool_calls), len(new.tool_calls))):
        before = saved.tool_calls[n] if n < len(saved.tool_calls) else None
        after = new.tool_calls[n] if n < len(new.tool_calls) else None
        if before is None or after is None or before.name != after.name:
            continue  # the sequence differs here: shown above and in the diff
        if _canonical(before.arguments) != _canonical(after.arguments):
            same_arguments = False
            differences.append(
                (
                    f"call {n + 1} {before.name}",
                    _canonical(before.arguments),
                    _canonical(after.arguments),
                )
            )
    answer = match_answer(saved.final_answer, new.final_answer)
    if answer != "exact":
        differences.append(("answer", _shown(saved.final_answer), _shown(new.final_answer)))
        differences.append(("numbers", _numbers(saved.final_answer), _numbers(new.final_answer)))
    if saved.status != new.status:
        differences.append(("status", saved.status, new.status))
    if saved.error != new.error:
        differences.append(("error", saved.error or "-", new.error or "-"))
    diff = list(
        difflib.unified_diff(
            trajectory_lines(saved), trajectory_lines(new), "saved", "new", lineterm=""
        )
    )
    return Comparison(saved.name, saved.gold, same_tools, same_arguments, answer, differences, diff)


def trajectory_lines(trajectory: Trajectory) -> list[str]:
    """One line per step, the form the unified diff is made of."""
    lines = [f"tool {call.name} {_canonical(call.arguments)}" for call in trajectory.tool_calls]
    lines.append(f"status {trajectory.status}")
    answer = trajectory.final_answer
    lines.append(f"answer {normalise_answer(answer)}" if answer is not None else "answer (none)")
    return lines


def report(comparison: Comparison, task_id: str | None = None) -> list[str]:
    """Lines for people: a verdict, then what differs side by side, then the unified diff."""
    kind = "gold" if comparison.gold else "not gold"
    verdict = (
        ("same trajectory" if comparison.same_trajectory else "different trajectory")
        + f", {'same' if comparison.same_answer else 'different'} answer"
        + (f" ({comparison.answer})" if comparison.answer == "numbers" else "")
    )
    flag = "" if comparison.passed or not comparison.gold else "  FAIL"
    ran = f" → task {task_id}" if task_id else ""
    lines = [f"== {comparison.name} ({kind}){ran}: {verdict}{flag}"]
    width = max((len(what) for what, _, _ in comparison.differences), default=0)
    for what, before, after in comparison.differences:
        lines.append(f"   {what:<{width}}  saved: {before}")
        lines.append(f"   {'':<{width}}  new:   {after}")
    lines.extend(f"   {line}" for line in comparison.diff)
    return lines


def summary(comparisons: list[Comparison]) -> str:
    gold = [c for c in comparisons if c.gold]
    return (
        f"{len(comparisons)} cases: {sum(c.same_trajectory for c in comparisons)} same "
        f"trajectory, {sum(c.same_answer for c in comparisons)} same answer; gold: "
        f"{sum(c.passed for c in gold)} of {len(gold)} pass"
    )


def all_gold_pass(comparisons: list[Comparison]) -> bool:
    """Cases not marked gold are compared and reported, never failed."""
    return all(c.passed for c in comparisons if c.gold)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _names(names: list[str]) -> str:
    return " → ".join(names) or "(no tool calls)"


def _shown(answer: str | None) -> str:
    return json.dumps(normalise_answer(answer), ensure_ascii=False) if answer is not None else "-"


def _numbers(text: str | None) -> str:
    return ", ".join(f"{number:f}" for number in numbers_in(text)) or "(none)"
