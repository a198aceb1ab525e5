"""A live run and its shadow compared: pure, so the verdicts are tested without a database
(activities/db/shadow_runs.py gathers the figures and stores the outcome)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RunFigures:
    """What is compared of one finished task."""

    task_id: str
    agent: str
    status: str
    output: str | None
    tools: list[str]  # the tools it called, turn by turn (a turn's calls by name)
    model_calls: int
    tokens: int  # prompt and completion
    duration_ms: int | None  # started to finished; None when it never started

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    same_answer: bool
    same_tools: bool


def normalised_answer(text: str | None) -> str | None:
    """An answer with its whitespace runs made single spaces and its ends trimmed."""
    return None if text is None else " ".join(text.split())


def tool_sequence(calls: list[tuple[int, str]]) -> list[str]:
    """Tool names in call order from (iteration, name) pairs; a turn's calls run at once, so
    within a turn they are ordered by name, not by which finished first."""
    return [name for _, name in sorted(calls)]


def compare_runs(live: RunFigures, shadow: RunFigures) -> Verdict:
    """Same answer: both answered, and the answers match once whitespace is normalised; same
    tools: the same tools in the same order (arguments are not compared)."""
    answer = normalised_answer(live.output)
    same = answer is not None and answer == normalised_answer(shadow.output)
    return Verdict(same_answer=same, same_tools=live.tools == shadow.tools)
