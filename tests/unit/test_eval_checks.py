"""The eval set loads, and its checks read answers as a person would (evals/checks.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evals.cases import Case, load_cases
from evals.checks import answer_failures, file_failures, numbers_in

FINISHED = datetime(2026, 12, 4, 10, 41, 30, tzinfo=UTC)  # a Friday


def case(**checks: object) -> Case:
    fields: dict[str, object] = {"tools": [], "shortest": 1, **checks}
    return Case(id="c", category="t", agent="assistant", input="?", **fields)


def test_the_set_covers_every_kind_of_task_the_issue_names() -> None:
    cases = load_cases()
    assert len(cases) >= 60
    assert {c.category for c in cases} >= {
        "arithmetic",
        "chained_arithmetic",
        "dates_times",
        "word_problems",
        "no_tool",
        "files_approvals",
        "tool_errors",
    }
    assert any(c.approvals == "approve" for c in cases)
    assert any(c.approvals == "reject" for c in cases)


def test_a_case_that_checks_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="checks nothing"):
        case()


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("1234 * 5678 = 7,006,652.", [1234, 5678, 7006652]),
        ("You pay $87.50 in total", [87.5]),
        ("It is −737", [-737]),
        ("v2 has 3 parts", [3]),
    ],
)
def test_numbers_are_read_with_separators_signs_and_currency(
    text: str, numbers: list[float]
) -> None:
    assert numbers_in(text) == numbers


def test_a_number_answer_passes_only_with_the_number() -> None:
    assert answer_failures(case(number=4173), "The result is 4,173.", FINISHED) == []
    assert answer_failures(case(number=4173), "The result is 391.", FINISHED) == [
        "the answer lacks 4173"
    ]


@pytest.mark.parametrize(
    ("kind", "answer"),
    [
        ("date", "Today is December 4, 2026."),
        ("date", "2026-12-04"),
        ("date", "Fri, 04 Dec 2026 10:41:30 +0000"),
        ("weekday", "It is Friday."),
        ("year", "It's 2026"),
        ("month", "We are in December."),
    ],
)
def test_todays_date_is_accepted_in_the_usual_spellings(kind: str, answer: str) -> None:
    assert answer_failures(case(today=kind), answer, FINISHED) == []


def test_a_wrong_weekday_fails() -> None:
    assert answer_failures(case(today="weekday"), "It is Monday.", FINISHED)


@pytest.mark.parametrize(
    ("answer", "right"),
    [
        ("It is 19:41 in Tokyo.", True),  # UTC+9
        ("The time in Tokyo is 7:43 PM.", True),
        ("2026-12-04T19:40:02+09:00", True),
        ("It is 10:41 in Tokyo.", False),  # the UTC time, not Tokyo's
        ("It is 19:55.", False),  # 14 minutes off
    ],
)
def test_a_time_reading_must_be_within_minutes_of_the_clock(answer: str, right: bool) -> None:
    failures = answer_failures(case(time_in="Asia/Tokyo"), answer, FINISHED)
    assert (failures == []) is right


def test_files_are_compared_as_a_person_would() -> None:
    wanted = case(files={"drafts/a.txt": "buy milk"}, absent=["secret.txt"])
    assert file_failures(wanted, {"drafts/a.txt": "Buy milk.\n"}) == []
    assert file_failures(wanted, {"drafts/a.txt": "eggs", "secret.txt": "x"}) == [
        "drafts/a.txt holds 'eggs', not 'buy milk'",
        "secret.txt exists",
    ]
    assert file_failures(wanted, {}) == ["drafts/a.txt was not written"]
