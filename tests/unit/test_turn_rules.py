"""What the loop decides from the transcript before a model turn: the agent's first calls
(once per request), whether the model must call a tool of its own choice, and the lines
`show_calls` adds to an answer (only for calls that worked)."""

from __future__ import annotations

import uuid
from typing import Any

from activities.db.models import Message
from activities.turn_rules import (
    first_call_id,
    joined_answer,
    must_call_tool,
    planned_calls,
    questions_of,
    shown_calls,
    table_cells,
    whole_cells_quoted,
)
from workflows.contracts.agents import PlannedCall
from workflows.contracts.tool_calls import ToolCall

SHOW = {"query_database": "Query: {sql}"}
DESCRIBE = [PlannedCall(tool="describe_database")]
SEARCH = [PlannedCall(tool="search_documents", arguments={"query": "{request}"})]


def row(role: str, content: str | None = None, **fields: Any) -> Message:
    return Message(task_id=uuid.uuid4(), role=role, content=content, **fields)


def call(call_id: str, name: str, **arguments: Any) -> Message:
    return row("assistant", tool_calls=[{"id": call_id, "name": name, "arguments": arguments}])


def result(call_id: str, content: str) -> Message:
    return row("tool", content, tool_call_id=call_id)


def names(calls: list[ToolCall]) -> list[str]:
    return [call.name for call in calls]


def test_first_calls_are_due_once_per_request() -> None:
    asked = [row("system", "s"), row("user", "how many?")]
    assert names(planned_calls(DESCRIBE, None, 0, asked)) == ["describe_database"]
    made = [*asked, call(first_call_id(0, 0), "describe_database"), result("x", "Tables: ...")]
    assert planned_calls(DESCRIBE, None, 1, made) == []
    follow_up = [*made, row("assistant", "6"), row("user", "and in Paris?")]
    assert names(planned_calls(DESCRIBE, None, 2, follow_up)) == ["describe_database"]
    reminded = [*made, row("user", "Not finished yet: the request also names a.txt")]
    assert planned_calls(DESCRIBE, None, 2, reminded) == []  # no new request
    assert planned_calls([], None, 0, asked) == []


def test_a_request_with_several_questions_fans_out_one_call_per_question() -> None:
    arguments = {"agent": "researcher", "instructions": "{question}"}
    fan_out = PlannedCall(tool="delegate", arguments=arguments)
    asked = [row("user", "What is the hotel limit in Paris, and how many vacation days do I get?")]
    calls = planned_calls(SEARCH, fan_out, 0, asked)
    assert [(c.name, c.arguments["instructions"]) for c in calls] == [
        ("delegate", "What is the hotel limit in Paris?"),
        ("delegate", "How many vacation days do I get?"),
    ]
    assert not must_call_tool("required", [*asked, call(calls[0].id, "delegate")])
    one = [row("user", "What is the hotel limit in Paris?")]
    [search] = planned_calls(SEARCH, fan_out, 0, one)
    assert (search.name, search.arguments) == (
        "search_documents",
        {"query": "What is the hotel limit in Paris?"},
    )


def test_questions_are_read_whole() -> None:
    assert questions_of("Hi. Which tea is green? Can I return it and is postage free?") == [
        "Which tea is green?",
        "Can I return it?",
        "Is postage free?",
    ]
    assert questions_of("Compare tea and coffee.") == []
    assert questions_of("What do tea and coffee cost?") == ["What do tea and coffee cost?"]


def test_the_model_must_call_until_it_has_called_a_tool_of_its_own() -> None:
    asked = [row("user", "how many?"), call(first_call_id(0, 0), "describe_database")]
    assert must_call_tool("required", asked)
    assert not must_call_tool("auto", asked)
    assert not must_call_tool("required", [*asked, call("call-1-0", "query_database", sql="x")])


def test_shown_lines_come_from_the_requests_calls_that_worked_each_once() -> None:
    rows = [
        row("user", "first question"),
        call("call-0-0", "query_database", sql="SELECT 0"),
        row("user", "second question"),
        call("call-1-0", "query_database", sql="SELECT bad"),
        result("call-1-0", "error: SQL error: no such column: bad"),
        call("call-2-0", "query_database", sql="SELECT 1"),
        result("call-2-0", "1"),
        call("call-3-0", "query_database", sql="SELECT 1"),
        call("call-4-0", "describe_database"),
    ]
    assert shown_calls(SHOW, rows) == "Query: SELECT 1"
    assert shown_calls({"query_database": "Query: {missing}"}, rows) == ""
    assert shown_calls({}, rows) == ""


def test_a_fan_out_with_a_failed_part_is_not_joined_but_left_to_the_model() -> None:
    asked = row("user", "What is A? What is B?")
    fanned = row(
        "assistant",
        tool_calls=[
            {"id": "call-0-fan-0", "name": "delegate", "arguments": {}},
            {"id": "call-0-fan-1", "name": "delegate", "arguments": {}},
        ],
    )
    good = [asked, fanned, result("call-0-fan-0", "A is 1."), result("call-0-fan-1", "B is 2.")]
    assert joined_answer(good) == "A is 1.\n\nB is 2."
    failed = [*good[:3], result("call-0-fan-1", "error: the sub-agent failed")]
    assert joined_answer(failed) is None
    assert joined_answer(good[:3]) is None  # a part still missing


def test_nothing_is_planned_or_forced_once_a_summary_replaced_the_requests_turns() -> None:
    summarised = [row("user", "what is the leave policy?"), row("user", "summary", summary_of=[3])]
    assert planned_calls(SEARCH, None, 5, summarised) == []
    assert not must_call_tool("required", summarised)


def test_questions_keep_their_full_stops_and_long_lists_are_not_fanned_out() -> None:
    assert questions_of("Is it paid after 2.5 years? What does e.g. mean?") == [
        "Is it paid after 2.5 years?",
        "What does e.g. mean?",
    ]
    arguments = {"agent": "researcher", "instructions": "{question}"}
    fan_out = PlannedCall(tool="delegate", arguments=arguments)
    many = [row("user", " ".join(f"What is {letter}?" for letter in "ABCDE"))]
    assert names(planned_calls(SEARCH, fan_out, 0, many)) == ["search_documents"]


def test_an_answer_quoting_a_table_cell_in_part_writes_it_whole() -> None:
    rows = [
        row("user", "Which product sold the most units?"),
        call("c1", "query_database", sql="SELECT ..."),
        result("c1", "Query: SELECT ...\nname | total\nFilter coffee 500g | 30\n(1 row)"),
    ]
    cells = table_cells(rows)
    assert cells == ["Filter coffee 500g"]
    assert whole_cells_quoted("coffee 500g sold the most.", cells) == (
        "Filter coffee 500g sold the most."
    )
    assert whole_cells_quoted("Filter coffee sold the most.", cells) == (
        "Filter coffee 500g sold the most."
    )
    # whole already, or too small a part to tell, or words of another name: as written
    for answer in ("Filter coffee 500g, 30 units.", "The 500g bag.", "Coffee beans 500g."):
        assert whole_cells_quoted(answer, cells) == answer


def test_only_table_results_give_cells() -> None:
    rows = [
        row("user", "What does the report say?"),
        call("c1", "read_file", path="report.txt"),
        result("c1", "Filter coffee 500g | sold out"),
    ]
    assert table_cells(rows) == []
