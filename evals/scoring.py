"""One run scored: completion, steps against the shortest path, tool use, recovery, budget.

Completion is the strict measure users care about: the task succeeded *and* its answer and
workspace are right. The others say how it got there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from evals.checks import answer_failures, file_failures
from evals.runner import Run

# results the loop gives for calls that never ran: unknown tool, unreadable or wrong arguments
_INVALID_CALL = re.compile(
    r"^error: (tool .* is not available|unknown tool|the arguments|invalid arguments|"
    r"the call is not valid)"
)


@dataclass
class Score:
    key: str
    category: str
    completed: bool
    failures: list[str]  # why it is not completed ([] when it is)
    model_calls: int
    shortest: int
    tools_called: list[str]
    right_tools: bool  # every tool it must call was called, and nothing else
    invalid_calls: int  # calls that never ran: unknown tool, bad arguments
    tool_errors: int  # calls that ran and failed
    recovered: bool | None  # after a failed call: completed? (None: no call failed)
    budget_stop: bool  # ended by a budget (calls, tokens, time)
    seconds: float
    working_ms: int  # without time spent waiting for a person
    tokens: int
    answer: str
    notes: list[str] = field(default_factory=list)


def score(run: Run) -> Score:
    case, task, trace = run.case, run.task, run.trace
    answer = task.get("result") or ""
    failures: list[str] = []
    if run.timed_out:
        failures.append("timed out")
    elif task["status"] != "succeeded":
        error = task.get("error") or {}
        failures.append(f"{task['status']}: {error.get('code', '')} {error.get('message', '')}")
    else:
        failures += answer_failures(case, answer, run.finished)
    failures += file_failures(case, run.files)
    calls = trace["tool_calls"]
    called = [call["tool"] for call in calls]
    invalid = sum(1 for call in calls if _INVALID_CALL.match(call["result"]))
    errors = sum(1 for call in calls if call["is_error"]) - invalid
    allowed = set(case.tools) | set(case.may_use)
    right_tools = set(case.tools) <= set(called) and set(called) <= allowed
    usage = task.get("usage") or {}
    error_code = (task.get("error") or {}).get("code")
    completed = not failures
    return Score(
        key=case.key,
        category=case.category,
        completed=completed,
        failures=failures,
        model_calls=len(trace["llm_calls"]),
        shortest=case.shortest,
        tools_called=called,
        right_tools=right_tools,
        invalid_calls=invalid,
        tool_errors=errors,
        recovered=completed if errors or invalid else None,
        budget_stop=error_code == "budget_exceeded",
        seconds=run.seconds,
        working_ms=int(trace.get("working_ms") or 0),
        tokens=int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0)),
        answer=answer,
        notes=run.decisions,
    )
