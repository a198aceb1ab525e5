"""Built-in tools every worker offers: side-effect free, safe to run on model-written input.

The calculator never hands model text to `eval`: it walks the parsed syntax tree and admits only
numbers, arithmetic and a fixed set of math functions, with limits so no input can burn the CPU
or memory of a worker.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import operator
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field

from activities.tools.errors import ToolError

MAX_EXPRESSION_LENGTH = 500
MAX_DEPTH = 100
MAX_ROUND_DIGITS = 330  # beyond the float range (1e308) either way, rounding changes nothing
MAX_INT_BITS = 1024  # about 1.8e308, the float range: beyond it a result is not a useful answer
MAX_WAIT_SECONDS = 240  # below the tool call's start-to-close timeout (policies.TOOL_CALL_TIMEOUT)

Number = int | float
# English whatever the worker's locale (strftime's %A and %B follow it)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
_DISALLOWED_NAMES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Compare: "comparison",
    ast.BoolOp: "and/or",
}


def calculator(
    expression: Annotated[
        str, Field(description="Arithmetic expression, e.g. '17*23+4' or 'sqrt(2)*pi'.")
    ],
) -> str:
    """Evaluate an arithmetic expression exactly as written and return the number.

    Supports + - * / // % ** (or ^), parentheses, sqrt abs round min max floor ceil log exp sin cos
    tan, and the constants pi and e.
    """
    text = expression.strip().replace("×", "*").replace("÷", "/").replace("−", "-")
    text = text.replace("^", "**")  # `^` means power in arithmetic, and models write it so
    if not text:
        raise ToolError("empty expression")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ToolError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise ToolError(f"not a valid arithmetic expression: {expression!r}") from None
    try:
        value = _evaluate(tree.body, 0)
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError:
        raise ToolError("result is too large") from None
    except (ValueError, TypeError) as exc:
        raise ToolError(f"cannot evaluate {expression!r}: {exc}") from None
    return _format_number(_checked(value))


def _evaluate(node: ast.expr, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise ToolError(f"expression is nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant):
        if type(node.value) not in (int, float):
            raise ToolError(f"only numbers are allowed, not {node.value!r}")
        return _checked(node.value)
    if isinstance(node, ast.BinOp):
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ToolError(f"operator {type(node.op).__name__} is not allowed")
        left = _evaluate(node.left, depth + 1)
        right = _evaluate(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _checked(op(left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_evaluate(node.operand, depth + 1)))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ToolError(f"unknown name {node.id!r}; constants are: {', '.join(_CONSTANTS)}")
    if isinstance(node, ast.Call):
        return _call(node, depth)
    what = _DISALLOWED_NAMES.get(type(node), type(node).__name__)
    raise ToolError(f"{what} is not allowed in an arithmetic expression")


def _call(node: ast.Call, depth: int) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        raise ToolError(
            f"function {called!r} is not allowed; functions are: {', '.join(_FUNCTIONS)}"
        )
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise ToolError(f"{node.func.id}() takes plain positional arguments only")
    args = [_evaluate(arg, depth + 1) for arg in node.args]
    if node.func.id == "round" and len(args) == 2:
        if not isinstance(args[1], int):
            raise ToolError("round() takes an integer number of digits")
        if abs(args[1]) > MAX_ROUND_DIGITS:  # round(1, -10**300) would never return
            raise ToolError(f"round() takes at most {MAX_ROUND_DIGITS} digits either way")
    return _checked(_FUNCTIONS[node.func.id](*args))


def _check_power(base: Number, exponent: Number) -> None:
    """Refuse before computing: `2**10**10` would take minutes and gigabytes.

    Only integer powers are costly; float powers are instant and overflow on their own.
    """
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:
            raise ToolError("result is too large")


def _checked(value: Any) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError("the result is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError("result is too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("result is too large" if math.isinf(value) else "result is not a number")
    return value


def _format_number(value: Number) -> str:
    if isinstance(value, int):
        return str(value)
    value = float(f"{value:.15g}")  # 0.1+0.2 reads 0.3, log(1000, 10) reads 3
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def current_time(
    timezone: Annotated[
        str, Field(description="IANA time zone name, e.g. 'Asia/Tokyo' or 'UTC'.")
    ] = "UTC",
) -> str:
    """Current date and time in a time zone, as ISO-8601 with the UTC offset."""
    name = timezone.strip()
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        suggestion = _suggest_zone(name)
        hint = (
            f"; did you mean {suggestion!r}?"
            if suggestion
            else "; use an IANA name like 'Europe/Paris'"
        )
        raise ToolError(f"unknown time zone {timezone[:80]!r}{hint}") from None
    return clock_reading(datetime.now(zone))


def clock_reading(now: datetime) -> str:
    """The ISO reading with its weekday and month named beside it: from the ISO string alone
    the 0.5B model cannot tell the weekday, and a weekday written into the sentence made it
    answer the weekday to every question (docs/EVALS.md)."""
    reading = {
        "datetime": now.isoformat(timespec="seconds"),
        "weekday": _WEEKDAYS[now.weekday()],
        "month": _MONTHS[now.month - 1],
    }
    return json.dumps(reading)


def _suggest_zone(name: str) -> str | None:
    """The zone the model meant, by case-blind name or city ('utc' → 'UTC', 'tokyo' →
    'Asia/Tokyo')."""
    wanted = name.replace(" ", "_").lower()
    for whole in (True, False):
        matches = [
            zone
            for zone in _zone_names()
            if (zone if whole else zone.rsplit("/", 1)[-1]).lower() == wanted
        ]
        if matches:
            return matches[0] if len(matches) == 1 else None
    return None


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


async def wait(
    seconds: Annotated[
        float, Field(description=f"How long to wait, in seconds (at most {MAX_WAIT_SECONDS}).")
    ],
) -> str:
    """Pause before checking again, e.g. while a job elsewhere finishes.

    Waits at most 240 seconds per call; call it again to wait longer.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ToolError("seconds must be a number of seconds, 0 or more")
    waited = min(seconds, MAX_WAIT_SECONDS)
    await asyncio.sleep(waited)
    capped = (
        f" (capped at {MAX_WAIT_SECONDS}s; call again to wait longer)" if waited < seconds else ""
    )
    return f"waited {_format_number(waited)} seconds{capped}"


BUILTIN_TOOLS: tuple[Callable[..., Any], ...] = (calculator, current_time, wait)
QUICK_TOOLS: tuple[Callable[..., Any], ...] = (calculator, current_time)  # pure: local activities
# the result depends on the arguments alone: the same call again in a task reuses it
IDEMPOTENT_TOOLS: tuple[Callable[..., Any], ...] = (calculator,)
