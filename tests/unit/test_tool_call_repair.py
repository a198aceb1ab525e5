"""A call to a tool that does not exist goes to the one offered tool its arguments fit."""

from __future__ import annotations

from typing import Any

import pytest

from activities.db.models import Message
from activities.model_replies import parse_model_reply
from activities.tool_call_repair import (
    answer_after_refusal,
    refused_an_unknown_tool,
    repair_tool_names,
    repeats_refusal,
    widen_partial_expressions,
    written_expressions,
)
from activities.tools.registry import default_registry
from workflows.contracts.agents import ToolCallFormat

OFFERED = ["calculator", "current_time"]


def repaired(content: str, offered: list[str] = OFFERED) -> Any:
    registry = default_registry()
    reply = parse_model_reply(
        ToolCallFormat.text, {"role": "assistant", "content": content}, offered, "call-1"
    )
    return repair_tool_names(reply, {name: registry.get(name) for name in offered})


@pytest.mark.parametrize(
    ("content", "tool"),
    [
        ('{"name": "calculate", "arguments": {"expression": "38*21.50"}}', "calculator"),
        # the schema's own words copied into the arguments do not stop it
        (
            '{"name": "calculate", "arguments": {"expression": "2+2", "required": ["expression"]}}',
            "calculator",
        ),
        (
            '<tool_call>{"name": "get_time", "arguments": {"timezone": "UTC"}}</tool_call>',
            "current_time",
        ),
    ],
)
def test_a_renamed_tool_whose_arguments_fit_is_called(content: str, tool: str) -> None:
    reply = repaired(content)

    assert [call.name for call in reply.tool_calls] == [tool]
    assert reply.invalid_calls == {} and reply.final_text is None
    assert "which was called instead" in reply.problems[-1]


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "total_cost", "arguments": {"shirt_cost": 25, "hat_cost": 12}}',  # fits none
        '{"name": "do_it", "arguments": {}}',  # no arguments: nothing to go by
    ],
)
def test_a_call_that_fits_no_tool_stays_refused_with_the_tool_list(content: str) -> None:
    reply = repaired(content)

    assert "available tools: calculator, current_time" in reply.invalid_calls["call-1-0"]


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "rm_rf", "arguments": {"path": "/"}}',  # fits read_file, but no name is alike
        # alike and fitting, but delete_file has side effects: the model must name it itself
        '{"name": "remove_file", "arguments": {"path": "a.txt"}}',
    ],
)
def test_a_call_is_never_guessed_onto_an_unlike_or_side_effecting_tool(content: str) -> None:
    reply = repaired(content, ["read_file", "delete_file"])

    assert "available tools: read_file, delete_file" in reply.invalid_calls["call-1-0"]


def test_asked_again_a_reply_calling_only_made_up_tools_is_the_answer() -> None:
    content = '{"name": "hello", "arguments": {"message": "Hola"}}'
    first = repaired(content)
    assert first.final_text is None and "call-1-0" in first.invalid_calls

    again = answer_after_refusal(repaired(content))

    assert again.tool_calls == [] and again.invalid_calls == {}
    assert again.final_text == content
    assert "its reply is the answer" in again.problems[-1]


def test_asked_again_a_reply_with_a_real_call_still_runs_it() -> None:
    reply = answer_after_refusal(
        repaired('{"name": "calculate", "arguments": {"expression": "1+1"}}')
    )
    assert [call.name for call in reply.tool_calls] == ["calculator"]


def row(role: str, content: str) -> Message:
    return Message(role=role, content=content)


def test_a_refusal_counts_only_among_the_latest_tool_results() -> None:
    refusal = "error: tool 'hello' is not available; available tools: calculator, current_time"
    assert refused_an_unknown_tool(
        [row("user", "hi"), row("assistant", "{}"), row("tool", refusal)]
    )
    assert not refused_an_unknown_tool(
        [row("tool", refusal), row("assistant", "{}"), row("tool", "395")]
    )
    assert not refused_an_unknown_tool([row("user", refusal)])


@pytest.mark.parametrize(
    ("request_text", "expressions"),
    [
        ("Calculate (48 + 52) * (17 - 9).", ["(48 + 52) * (17 - 9)"]),
        ("Compute 17*23, then add 1000.", ["17*23"]),
        ("What is 2^10 and 3 + 4?", ["2^10", "3 + 4"]),
        # a date, a lone number, a measure: no arithmetic
        ("On 2026-12-05 I paid 3 for a 6 m by 4.5 m room.", []),
        ("Divide 100 by 0.", []),
    ],
)
def test_the_arithmetic_a_request_writes_out_is_found_whole(
    request_text: str, expressions: list[str]
) -> None:
    assert written_expressions(request_text) == expressions


@pytest.mark.parametrize(
    ("request_text", "expression", "runs"),
    [
        # a part dropped: the whole expression runs
        ("Calculate (48 + 52) * (17 - 9).", "48 + 52", "(48 + 52) * (17 - 9)"),
        ("Calculate (48 + 52) * (17 - 9).", "(17-9)", "(48 + 52) * (17 - 9)"),
        # the whole, or a step's own expression, runs as written
        ("Calculate (48 + 52) * (17 - 9).", "(48+52)*(17-9)", "(48+52)*(17-9)"),
        ("Compute 17*23, then add 1000.", "391 + 1000", "391 + 1000"),
        # one of two expressions the request writes is not part of the other
        ("What is 2+3 and 2+3*4?", "2+3", "2+3"),
        # digits that only look like a part (8+52 inside 48+52)
        ("Calculate (48 + 52) * (17 - 9).", "8+52", "8+52"),
    ],
)
def test_a_call_dropping_part_of_the_requests_expression_is_widened(
    request_text: str, expression: str, runs: str
) -> None:
    content = f'{{"name": "calculator", "arguments": {{"expression": "{expression}"}}}}'
    reply = widen_partial_expressions(repaired(content), written_expressions(request_text))

    assert reply.tool_calls[0].arguments == {"expression": runs}
    assert bool(reply.problems) == (runs != expression)


def test_a_refusal_repeated_as_text_is_told_from_an_answer() -> None:
    def reply(content: str, calls: list[Any] | None = None) -> dict[str, Any]:
        message = {"role": "assistant", "content": content, "tool_calls": calls}
        return {"choices": [{"message": message}]}

    echo = "The tool 'total_cost' is not available; available tools: calculator, current_time."
    assert repeats_refusal(reply(echo))
    assert not repeats_refusal(reply("You pay $87."))
    assert not repeats_refusal(reply(echo, [{"id": "c", "function": {"name": "calculator"}}]))
