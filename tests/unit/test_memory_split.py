"""Where a summary goes: the system prompt and the first user message stay, the last turns
stay verbatim, and a tool call is never separated from its result."""

from __future__ import annotations

import uuid

from activities.db.models import Message
from activities.memory import split_for_summary
from activities.prompts import chat_message

TASK = uuid.uuid4()


def transcript(*roles: str) -> list[Message]:
    return [
        Message(id=i + 1, task_id=TASK, role=role, content=f"{role} {i + 1}")
        for i, role in enumerate(roles)
    ]


def ids(rows: list[Message]) -> list[int]:
    return [row.id for row in rows]


def test_the_opening_stays_and_the_last_turns_are_kept_whole() -> None:
    rows = transcript(
        "system", "user", "assistant", "tool", "tool", "assistant", "tool", "assistant", "tool"
    )
    split = split_for_summary(rows, keep_recent=2)
    assert ids(split.head) == [1, 2]
    assert ids(split.middle) == [3, 4, 5]  # the first turn with both of its results
    assert ids(split.tail) == [6, 7, 8, 9]


def test_no_more_turns_than_are_kept_means_nothing_to_summarise() -> None:
    rows = transcript("system", "user", "assistant", "tool", "assistant")
    split = split_for_summary(rows, keep_recent=2)
    assert split.middle == [] and ids(split.tail) == [3, 4, 5]


def test_keep_recent_zero_summarises_everything_after_the_opening() -> None:
    rows = transcript("system", "user", "assistant", "tool", "user", "assistant")
    split = split_for_summary(rows, keep_recent=0)
    assert ids(split.middle) == [3, 4, 5, 6] and split.tail == []


def test_an_earlier_summary_is_folded_into_the_next() -> None:
    rows = transcript("system", "user", "user", "assistant", "tool", "assistant", "tool")
    rows[2].summary_of = [3, 4, 5]
    split = split_for_summary(rows, keep_recent=1)
    assert ids(split.middle) == [3, 4, 5]  # the old summary and the turn after it


def test_a_lone_summary_is_left_alone() -> None:
    rows = transcript("system", "user", "user", "assistant", "tool")
    rows[2].summary_of = [9]
    split = split_for_summary(rows, keep_recent=1)
    assert split.middle == []


def test_a_long_tool_result_is_cut_for_the_model_with_a_note() -> None:
    row = Message(id=7, task_id=TASK, role="tool", content="x" * 1000, name="read_file")
    shown = chat_message(row, max_tool_result_chars=100).content or ""
    assert shown.startswith("x" * 100) and not shown.startswith("x" * 101)
    assert f"900 of 1000 characters cut; the whole result is message 7 of /v1/tasks/{TASK}" in shown
    short = Message(id=8, task_id=TASK, role="tool", content="x" * 100)
    assert chat_message(short, max_tool_result_chars=100).content == "x" * 100
