"""The eval set: cases in evals/cases/*.yaml, one file per category.

A case is a task for a built-in agent with what a correct run must show, all checked by code
(evals/checks.py): the answer (a number, words, the clock), the files it leaves, the tools it
calls (and may call), and the model calls of the shortest path (a tool round trip is 2: the
call, then the answer; a question that needs no tool is 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

CASES_DIR = Path(__file__).parent / "cases"


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    category: str
    agent: str
    input: str
    given: dict[str, str] = Field(default_factory=dict)  # the files the task starts with
    tools: list[str] = Field(description="The tools a right run calls; [] means none.")
    may_use: list[str] = Field(default_factory=list, description="Tools it may call besides.")
    shortest: int = Field(ge=1, description="Model calls on the shortest path.")
    # what the answer must hold (any that are given)
    number: float | None = None
    contains: list[str] = Field(default_factory=list)  # every one, case-blind
    contains_any: list[str] = Field(default_factory=list)  # at least one, case-blind
    today: Literal["date", "weekday", "year", "month"] | None = None
    time_in: str | None = None  # the answer reads the current time in this zone (±5 min)
    zone: str = "UTC"  # the zone `today` is read in
    # the workspace afterwards: path → text the file must hold; paths that must not exist
    files: dict[str, str] = Field(default_factory=dict)
    absent: list[str] = Field(default_factory=list)
    approvals: Literal["approve", "reject"] | None = None  # how the eval decides requests

    @property
    def key(self) -> str:
        return f"{self.category}/{self.id}"

    @model_validator(mode="after")
    def _checks_something(self) -> Case:
        answer_checks = (self.number, self.contains, self.contains_any, self.today, self.time_in)
        if not any(check not in (None, []) for check in answer_checks) and not (
            self.files or self.absent
        ):
            raise ValueError(f"case {self.id!r} checks nothing")
        return self


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    """Every case of every category file, in file then case order; ids unique per category."""
    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        category, agent = document["category"], document.get("agent")
        for raw in document["cases"]:
            try:
                cases.append(Case(category=category, **{"agent": agent, **raw}))
            except ValueError as error:
                raise SystemExit(f"{path}: {error}") from None
    keys = [case.key for case in cases]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise SystemExit(f"duplicate case ids: {', '.join(duplicates)}")
    return cases
