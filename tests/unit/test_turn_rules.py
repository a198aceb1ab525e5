"""What the loop decides from the transcript before a model turn: the agent's first calls
(once per request), whether the model must call a tool of its own choice, and the lines
`show_calls` adds to an answer (only for calls that worked)."""

from __future__ import annotations

import uuid
from typing import Any

from activities.db.models import Message
from activities.turn_rules import (
    first_call_id,
    must_call_tool,
    planned_calls,
    questions_of,
    shown_calls,
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
