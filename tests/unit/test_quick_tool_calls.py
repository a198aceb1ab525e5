"""Which calls of a model turn the workflow may run as local activities (issue 13): calls to
quick tools, and calls that run no tool at all (invalid or unknown) — never a slow tool."""

from __future__ import annotations

import json
from typing import Any

from activities.model_turn_records import turn_record
from activities.tools.registry import default_registry
from workflows.contracts.agents import ToolCallFormat
from workflows.contracts.model_turns import ModelTurnRequest


def reply_calling(*calls: tuple[str, str]) -> dict[str, Any]:
    tool_calls = [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        for call_id, (name, arguments) in enumerate(calls)
    ]
    return {"choices": [{"message": {"role": "assistant", "tool_calls": tool_calls}}]}


def test_quick_tools_and_calls_that_run_nothing_are_quick_slow_tools_are_not() -> None:
    request = ModelTurnRequest(
        task_id="t",
        iteration=0,
        model="m",
        message_ids=[],
        tools=["calculator", "current_time", "wait", "write_file"],
        tool_call_format=ToolCallFormat.native,
    )
    reply = reply_calling(
        ("calculator", json.dumps({"expression": "1+1"})),
        ("wait", json.dumps({"seconds": 5})),
        ("write_file", json.dumps({"path": "a.txt", "content": "x"})),
        ("current_time", "{}"),
        ("calculator", "{not json"),
        ("no_such_tool", "{}"),
    )
    record = turn_record(request, reply, 3, None, default_registry())
    result = record.result(message_id=7)

    ids = {call.name + ("!" if call.id in result.invalid_calls else ""): call.id
           for call in result.tool_calls}  # fmt: skip
    assert set(result.quick_calls) == {
        ids["calculator"],
        ids["current_time"],
        ids["calculator!"],
        ids["no_such_tool!"],
    }
    assert ids["wait"] not in result.quick_calls and ids["write_file"] not in result.quick_calls
    assert record.event.data["quick_calls"] == result.quick_calls  # rebuilt by a retry from it
