"""The built-in tools answer correctly and refuse, quickly and clearly, what they must not run."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from activities.tools.builtin import calculator, clock_reading, current_time
from activities.tools.errors import ToolError
from activities.tools.registry import default_registry


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("17*23+4", "395"),
        ("  (1 + 2) * 3  ", "9"),
        ("7/2", "3.5"),
        ("6/2", "3"),  # integral results read as integers
        ("0.1+0.2", "0.3"),
        ("10//3", "3"),
        ("10 % 3", "1"),
        ("-3**2", "-9"),
        ("2**-1", "0.5"),
        ("2^20 - 1", "1048575"),  # ^ is power, with power's precedence
        ("2 ^ 3 * 2", "16"),
        ("sqrt(16) + abs(-2)", "6"),
        ("round(2.567, 2)", "2.57"),
        ("min(4, 2, 8) + max(1, 5)", "7"),
        ("floor(2.7) + ceil(2.1)", "5"),
        ("log(1000, 10)", "3"),
        ("exp(0) + sin(0) + cos(0) + tan(0)", "2"),
        ("round(pi, 5)", "3.14159"),
        ("e", "2.71828182845905"),
        ("17 × 23", "391"),
        ("2**1000 // 2**999", "2"),
        ("1e3", "1000"),
        ("1/3", "0.333333333333333"),
    ],
)
def test_calculator_evaluates_arithmetic(expression: str, expected: str) -> None:
    assert calculator(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "function '__import__' is not allowed"),
        ("__import__('os').system('true')", "function \"__import__('os').system\" is not"),
        ("(1).real", "attribute access is not allowed"),
        ("math.sqrt(4)", "function 'math.sqrt' is not allowed"),
        ("open('/etc/passwd')", "function 'open' is not allowed"),
        ("x + 1", "unknown name 'x'"),
        ("'a' * 3", "only numbers are allowed"),
        ("True + 1", "only numbers are allowed"),
        ("[1, 2]", "List is not allowed"),
        ("(lambda: 1)()", "function 'lambda: 1' is not allowed"),
        ("[x for x in range(9)]", "ListComp is not allowed"),
        ("1 if 2 else 3", "IfExp is not allowed"),
        ("1 < 2", "comparison is not allowed"),
        ("1 << 3", "operator LShift is not allowed"),
        ("sqrt(x=4)", "positional arguments only"),
        ("1 +", "not a valid arithmetic expression"),
        ("", "empty expression"),
    ],
)
def test_calculator_refuses_anything_but_arithmetic(expression: str, message: str) -> None:
    with pytest.raises(ToolError) as error:
        calculator(expression)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "expression",
    ["2**10**10", "9**9**9", "10**400", "2^10^10", "(10**300)*(10**300)", "exp(1000)", "1e308*10"],
)
def test_calculator_refuses_huge_results_without_computing_them(expression: str) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match="result is too large"):
        calculator(expression)
    assert time.monotonic() - started < 0.5


def test_calculator_refuses_long_and_deeply_nested_input() -> None:
    with pytest.raises(ToolError, match="longer than 500 characters"):
        calculator("1+" * 300 + "1")
    with pytest.raises(ToolError, match="nested deeper"):
        calculator("-" * 150 + "1")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1/0", "division by zero"),
        ("round(1, -10**300)", "round() takes at most 330 digits"),  # would never return
        ("round(2.5, 10**6)", "round() takes at most 330 digits"),
        ("5 // (2 - 2)", "division by zero"),
        ("1 % 0", "division by zero"),
        ("sqrt(-1)", "math domain error"),
        ("log(0)", "math domain error"),
        ("min()", "cannot evaluate 'min()'"),
    ],
)
def test_calculator_reports_math_errors_clearly(expression: str, message: str) -> None:
    with pytest.raises(ToolError) as error:
        calculator(expression)
    assert message in str(error.value)


def test_current_time_defaults_to_utc() -> None:
    now = datetime.fromisoformat(json.loads(current_time())["datetime"])

    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_current_time_in_an_iana_zone_carries_its_offset() -> None:
    now = datetime.fromisoformat(json.loads(current_time("Asia/Tokyo"))["datetime"])  # no DST

    assert now.utcoffset() == timedelta(hours=9)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("Tokyo", "unknown time zone 'Tokyo'; did you mean 'Asia/Tokyo'?"),
        ("new york", "did you mean 'America/New_York'?"),
        ("utc", "did you mean 'UTC'?"),
        ("Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'; use an IANA name"),
        ("../../etc/passwd", "unknown time zone"),
    ],
)
def test_current_time_refuses_unknown_zones(zone: str, message: str) -> None:
    with pytest.raises(ToolError) as error:
        current_time(zone)
    assert message in str(error.value)


async def test_builtin_tools_through_the_registry() -> None:
    registry = default_registry()

    assert await registry.get("calculator").invoke({"expression": "17*23+4"}) == "395"
    assert "timezone" in registry.get("current_time").parameters_schema["properties"]
    assert registry.get("current_time").parameters_schema["required"] == []


def test_a_clock_reading_names_its_weekday_and_month_in_english() -> None:
    """From the ISO string alone the small model cannot tell the weekday."""
    reading = json.loads(clock_reading(datetime(2026, 12, 5, 13, 4, 5, tzinfo=UTC)))
    assert reading == {
        "datetime": "2026-12-05T13:04:05+00:00",
        "weekday": "Saturday",
        "month": "December",
    }
