"""Which tool calls wait for a human: an agent's approval policies applied to one call.

This runs inside the workflow, so it is pure: stdlib only, no I/O, clock, randomness or
environment. The same policies and call give the same answer on every replay.

Every rule fails safe. If a rule cannot be checked (the argument is missing, a number is not a
number, a path is not text), the rule holds and the call waits. The workflow cannot know a
tool's defaults or coercions, so the only safe guess is "ask".
"""

from __future__ import annotations

import math
import operator
import posixpath
import re
from collections.abc import Callable
from typing import Any

from workflows.contracts.approvals import ApprovalPolicy, ArgumentRule
from workflows.contracts.tool_calls import ToolCall

_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "gt": (operator.gt, ">"),
    "gte": (operator.ge, ">="),
    "lt": (operator.lt, "<"),
    "lte": (operator.le, "<="),
}


def approval_needed(
    policies: list[ApprovalPolicy], call: ToolCall
) -> tuple[ApprovalPolicy, str] | None:
    """The policy of `call.name` and why the call must wait, or None if it may run now."""
    policy = next((p for p in policies if p.tool == call.name), None)
    if policy is None:
        return None
    if not policy.when:
        return policy, f"{call.name} always needs approval"
    reasons = [r for r in (_rule_holds(rule, call.arguments) for rule in policy.when) if r]
    if not reasons:
        return None
    return policy, f"{call.name} needs approval: " + "; ".join(reasons)


def _rule_holds(rule: ArgumentRule, arguments: dict[str, Any]) -> str | None:
    """Why the rule holds for these arguments, or None when it does not."""
    name, op, limit = rule.argument, rule.op, rule.value
    if name not in arguments:
        return f"{name} is missing, so it cannot be checked against the rule"
    value = arguments[name]
    shown = f"{name} {_show(value)}"
    if op in _COMPARISONS:
        compare, symbol = _COMPARISONS[op]
        number, bound = _number(value), _number(limit)
        if number is None or bound is None:
            return f"{shown} is not a number, so it cannot be compared with {_show(limit)}"
        return f"{shown} {symbol} {_show(limit)}" if compare(number, bound) else None
    if op == "eq":
        return f"{shown} equals {_show(limit)}" if value == limit else None
    if op == "ne":
        return f"{shown} is not {_show(limit)}" if value != limit else None
    if op in ("in", "not_in"):
        if not isinstance(limit, list):
            return f"rule on {name} has no list to compare with"
        if (value in limit) == (op == "in"):
            return f"{shown} is {'' if op == 'in' else 'not '}one of {_show(limit)}"
        return None
    if not isinstance(value, str) or not isinstance(limit, str):
        return f"{shown} is not text, so it cannot be checked against {_show(limit)}"
    if op == "matches":
        try:
            found = re.search(limit, value) is not None
        except re.error:
            return f"rule on {name} has a pattern that does not compile: {limit!r}"
        return f"{shown} matches {limit!r}" if found else None
    under, at_folder = _placement(value, limit)
    if op == "outside":
        # the folder itself is not a place inside it, so writing "drafts" is outside "drafts/"
        return None if under else f"{shown} is outside {limit!r}"
    # op == "inside": the folder itself counts too, so "inside 'secrets/'" catches "secrets"
    return f"{shown} is inside {limit!r}" if under or at_folder else None


def _placement(path: str, folder: str) -> tuple[bool, bool]:
    """(strictly under the folder, is the folder) after normalising `.` and `..`.

    A relative path is never under an absolute folder and vice versa: nothing can tell where
    the two meet, so neither counts as inside.
    """
    normal, base = posixpath.normpath(path), posixpath.normpath(folder)
    if posixpath.isabs(normal) != posixpath.isabs(base):
        return False, False
    if base == ".":
        escapes = normal == ".." or normal.startswith("../")
        return normal != "." and not escapes, normal == "."
    return normal.startswith(base.rstrip("/") + "/"), normal == base


def _number(value: Any) -> float | None:
    """A finite number, from a number or numeric text (tools coerce "250" to 250 too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return None


def _show(value: Any) -> str:
    """A short rendering for the approver: numbers as is, text quoted, long values cut."""
    text = str(value) if isinstance(value, int | float) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
