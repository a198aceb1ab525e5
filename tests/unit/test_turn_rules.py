"""What the loop decides from the transcript before a model turn: the agent's first calls
(once per request), whether the model must call a tool of its own choice, and the lines
`show_calls` adds to an answer (only for calls that worked)."""

from __future__ import annotations

import uuid
from typing import Any

from activities.db.models import Message
from activities.turn_rules import first_call_id, first_calls_due, must_call_tool, shown_calls

SHOW = {"query_database": "Query: {sql}"}


def row(role: str, content: str | None = None, **fields: Any) -> Message:
    return Message(task_id=uuid.uuid4(), role=role, content=content, **fields)


def call(call_id: str, name: str, **arguments: Any) -> Message:
    return row("assistant", tool_calls=[{"id": call_id, "name": name, "arguments": arguments}])


def result(call_id: str, content: str) -> Message:
    return row("tool", content, tool_call_id=call_id)


def test_first_calls_are_due_once_per_request() -> None:
    asked = [row("system", "s"), row("user", "how many?")]
    assert first_calls_due(["describe_database"], asked) == ["describe_database"]
    made = [*asked, call(first_call_id(0, 0), "describe_database"), result("x", "Tables: ...")]
    assert first_calls_due(["describe_database"], made) == []
    follow_up = [*made, row("assistant", "6"), row("user", "and in Paris?")]
    assert first_calls_due(["describe_database"], follow_up) == ["describe_database"]
    reminded = [*made, row("user", "Not finished yet: the request also names a.txt")]
    assert first_calls_due(["describe_database"], reminded) == []  # a reminder is no request
    assert first_calls_due([], asked) == []


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
