"""Requests that spell out their steps in order ("compute 17*23, then add 1000, then multiply
by 3"), and what to tell a small model after each tool result so it takes the next one.

Small models read a tool result as the end of the task: told to answer after a result, they
answer with the first step's; told to go on if anything is left, they call the same tool on the
result until the runaway guard stops them (both measured: docs/EVALS.md). The request's own
order words say how many steps it has, so the reminder can name the next one outright.
"""

from __future__ import annotations

import re

# ", then" / "and then" / "; then" / ". Then" / ", after that": a step follows ("if it exists
# then delete it" and "since then" name no order). Anchored on the separator, never on a run of
# whitespace, so a long input costs linear time.
_THEN = re.compile(r"(?:[,;.]|\band)\s+(?:then|after\s+that)\b[,:]?", re.IGNORECASE)


def steps_of(request: str) -> list[str]:
    """The request's steps in order; one step when it names no order."""
    parts = [part.strip(" .;,") for part in _THEN.split(request.strip())]
    return [part for part in parts if part] or [request.strip()]


def next_step(request: str, steps_done: int) -> str | None:
    """The step to take after `steps_done` tool rounds, or None when none is left (or the
    request has a single step)."""
    steps = steps_of(request)
    if len(steps) < 2 or steps_done >= len(steps):
        return None
    return steps[steps_done]
