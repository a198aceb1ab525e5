"""Requests per tool-call format, and reading calls or answers out of the replies models write.

The reply texts below are the shapes seen from Qwen2.5-Coder-0.5B on llama.cpp (bare JSON, JSON
one object per line, fenced JSON) and those other models write (`<tool_call>` blocks, OpenAI-
shaped objects), plus broken ones.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from activities.model_replies import ParsedReply, parse_model_reply
from activities.model_requests import ChatMessage, action_schema, build_chat_request
from activities.tools.registry import default_registry
from activities.tools.tool import Tool
from workflows.contracts.agents import ToolCallFormat
from workflows.contracts.tool_calls import ToolCall

NATIVE, TEXT, JSON_SCHEMA = ToolCallFormat.native, ToolCallFormat.text, ToolCallFormat.json_schema
OFFERED = ["calculator", "current_time"]


@pytest.fixture(scope="module")
def tools() -> list[Tool]:
    return default_registry().tools(OFFERED)


def conversation(*, with_result: bool) -> list[ChatMessage]:
    messages = [
        ChatMessage(role="system", content="You are terse."),
        ChatMessage(role="user", content="What is 17*23+4?"),
    ]
    if with_result:
        call = ToolCall(id="call-0-0", name="calculator", arguments={"expression": "17*23+4"})
        messages += [
            ChatMessage(
                role="assistant",
                content='{"name": "calculator", "arguments": {"expression": "17*23+4"}}',
                tool_calls=[call],
            ),
            ChatMessage(role="tool", content="395", tool_call_id="call-0-0", name="calculator"),
        ]
    return messages


def parse(fmt: ToolCallFormat, content: str | None, **message: Any) -> ParsedReply:
    return parse_model_reply(
        fmt, {"role": "assistant", "content": content, **message}, OFFERED, "call-3"
    )


def calls(reply: ParsedReply) -> list[tuple[str, str, dict[str, Any]]]:
    return [(call.id, call.name, call.arguments) for call in reply.tool_calls]


# --- requests ----------------------------------------------------------------------------


def test_native_request_offers_tools_and_replays_calls_in_the_wire_format(
    tools: list[Tool],
) -> None:
    body = build_chat_request(NATIVE, conversation(with_result=True), tools)

    assert body["tool_choice"] == "auto"
    assert [t["function"]["name"] for t in body["tools"]] == OFFERED
    system, user, assistant, result = body["messages"]
    assert system == {"role": "system", "content": "You are terse."}  # no tools section
    assert assistant["tool_calls"] == [
        {
            "id": "call-0-0",
            "type": "function",
            "function": {"name": "calculator", "arguments": '{"expression": "17*23+4"}'},
        }
    ]
    assert result == {"role": "tool", "content": "395", "tool_call_id": "call-0-0"}
    assert "response_format" not in body


def test_native_request_without_tools_has_no_tool_options() -> None:
    body = build_chat_request(NATIVE, conversation(with_result=False), [])

    assert "tools" not in body and "tool_choice" not in body


def test_text_request_describes_tools_in_the_first_system_message(tools: list[Tool]) -> None:
    body = build_chat_request(TEXT, conversation(with_result=False), tools)

    assert "tools" not in body and "response_format" not in body
    system = body["messages"][0]["content"]
    assert system.startswith("You are terse.\n\n# Tools")
    assert "<tool_call>" in system
    listed = system.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0]
    tool_lines = [json.loads(line) for line in listed.split("\n")]
    assert [t["name"] for t in tool_lines] == OFFERED
    assert tool_lines[0]["parameters"]["required"] == ["expression"]


def test_text_request_keeps_the_prompt_prefix_identical_across_turns(tools: list[Tool]) -> None:
    first = build_chat_request(TEXT, conversation(with_result=False), tools)["messages"]
    second = build_chat_request(TEXT, conversation(with_result=True), tools)["messages"]

    assert second[: len(first)] == first


def test_text_request_replays_calls_as_written_and_results_as_tool_responses(
    tools: list[Tool],
) -> None:
    messages = conversation(with_result=True)
    messages.append(ChatMessage(role="tool", content="21:00", tool_call_id="x", name="t"))

    body = build_chat_request(TEXT, messages, tools)

    _, _, assistant, results = body["messages"]
    assert assistant == {"role": "assistant", "content": messages[2].content}
    assert results["role"] == "user"  # every backend accepts it; Qwen was trained on it
    assert results["content"] == (
        "<tool_response>\n395\n</tool_response>\n<tool_response>\n21:00\n</tool_response>\n"
        "Use this result to answer in plain text."
    )


def test_text_request_writes_out_stored_calls_that_have_no_text(tools: list[Tool]) -> None:
    call = ToolCall(id="c", name="current_time", arguments={"timezone": "UTC"})
    messages = [ChatMessage(role="assistant", content=None, tool_calls=[call])]

    body = build_chat_request(TEXT, messages, tools)

    assert body["messages"][0]["role"] == "system"  # inserted to hold the tools section
    assert body["messages"][1]["content"] == (
        '<tool_call>\n{"name": "current_time", "arguments": {"timezone": "UTC"}}\n</tool_call>'
    )


def test_json_schema_request_constrains_the_reply_to_an_action(tools: list[Tool]) -> None:
    body = build_chat_request(JSON_SCHEMA, conversation(with_result=True), tools)

    assert "tools" not in body
    assert body["response_format"]["type"] == "json_schema"
    spec = body["response_format"]["json_schema"]
    assert spec["name"] == "agent_action" and spec["strict"] is True
    assert spec["schema"] == action_schema(tools)
    assert '{"final_answer": <answer-text>}' in body["messages"][0]["content"]
    assert body["messages"][-1]["content"] == "<tool_response>\n395\n</tool_response>"


@pytest.mark.parametrize(
    ("action", "valid"),
    [
        ({"final_answer": "395"}, True),
        ({"tool_calls": [{"name": "calculator", "arguments": {"expression": "1+1"}}]}, True),
        (
            {
                "tool_calls": [
                    {"name": "current_time", "arguments": {}},
                    {"name": "calculator", "arguments": {"expression": "2"}},
                ]
            },
            True,
        ),
        ({"tool_calls": []}, False),
        ({"tool_calls": [{"name": "shell", "arguments": {"cmd": "ls"}}]}, False),
        ({"tool_calls": [{"name": "calculator", "arguments": {"timezone": "UTC"}}]}, False),
        ({"tool_calls": [{"name": "calculator", "arguments": {}}]}, False),
        ({"final_answer": "395", "tool_calls": []}, False),
        ({"answer": "395"}, False),
    ],
)
def test_action_schema_admits_only_a_final_answer_or_calls_to_offered_tools(
    tools: list[Tool], action: dict[str, Any], valid: bool
) -> None:
    jsonschema = pytest.importorskip("jsonschema")

    errors = list(jsonschema.Draft202012Validator(action_schema(tools)).iter_errors(action))

    assert (not errors) is valid


def test_action_schema_without_tools_is_a_final_answer() -> None:
    assert action_schema([])["required"] == ["final_answer"]


# --- replies: native ---------------------------------------------------------------------


def native_call(name: str, arguments: str, call_id: str | None = None) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_native_tool_calls_keep_the_models_ids() -> None:
    reply = parse(
        NATIVE,
        None,
        tool_calls=[
            native_call("calculator", '{"expression": "2+2"}', "abc"),
            native_call("current_time", "", None),
        ],
    )

    assert calls(reply) == [
        ("abc", "calculator", {"expression": "2+2"}),
        ("call-3-1", "current_time", {}),
    ]
    assert reply.final_text is None and reply.content is None and not reply.problems


def test_native_call_with_broken_json_is_kept_and_marked_for_an_error_result() -> None:
    reply = parse(NATIVE, None, tool_calls=[native_call("calculator", '{"expression": "2+', "a")])

    assert calls(reply) == [("a", "calculator", {})]
    assert "not valid JSON" in reply.invalid_calls["a"]
    assert reply.problems and reply.final_text is None


def test_native_call_to_a_tool_not_offered_is_marked() -> None:
    reply = parse(NATIVE, None, tool_calls=[native_call("shell", '{"cmd": "ls"}', "a")])

    assert reply.invalid_calls == {
        "a": "tool 'shell' is not available; available tools: calculator, current_time"
    }


def test_native_reply_without_tool_calls_falls_back_to_the_text_parser() -> None:
    reply = parse(NATIVE, '{"name": "calculator", "arguments": {"expression": "17*23+4"}}')

    assert calls(reply) == [("call-3-0", "calculator", {"expression": "17*23+4"})]
    assert reply.content is None  # the call lives in tool_calls, not twice


def test_native_plain_answer() -> None:
    reply = parse(NATIVE, "Paris.")

    assert reply.final_text == "Paris." and reply.content == "Paris." and not reply.tool_calls


# --- replies: text -----------------------------------------------------------------------

CALC = ("calculator", {"expression": "17*23+4"})
TIME = ("current_time", {"timezone": "Asia/Tokyo"})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"name": "calculator", "arguments": {"expression": "17*23+4"}}', [CALC]),
        ('\n  {"name": "calculator", "parameters": {"expression": "17*23+4"}}  \n', [CALC]),
        ('{"tool": "calculator", "arguments": {"expression": "17*23+4"}}', [CALC]),
        (
            '{"type": "function", "function": {"name": "calculator", '
            '"arguments": "{\\"expression\\": \\"17*23+4\\"}"}}',
            [CALC],
        ),
        (
            '```json\n{\n  "name": "current_time",\n  "arguments": {\n'
            '    "timezone": "Asia/Tokyo"\n  }\n}\n```',
            [TIME],
        ),
        (
            'I will compute it.\n<tool_call>\n{"name": "calculator", "arguments": '
            '{"expression": "17*23+4"}}\n</tool_call>\n<tool_call>{"name": "current_time", '
            '"arguments": {"timezone": "Asia/Tokyo"}}</tool_call>',
            [CALC, TIME],
        ),
        (
            '[{"name": "calculator", "arguments": {"expression": "17*23+4"}}, '
            '{"name": "current_time", "arguments": {"timezone": "Asia/Tokyo"}}]',
            [CALC, TIME],
        ),
        (  # one object per line, the last one cut off by max_tokens
            '{"name": "calculator", "arguments": {"expression": "17*23+4"}}\n'
            '{"name": "current_time", "arguments": {"timezone": "Asia/Tokyo"}}\n'
            '{"name": "current_time", "arguments": {"timezo',
            [CALC, TIME],
        ),
        ('<tool_call>\n{"name": "calculator", "arguments": {"expression": "17*23+4"}}', [CALC]),
        (
            '{"tool_calls": [{"name": "calculator", "arguments": {"expression": "17*23+4"}}]}',
            [CALC],
        ),
    ],
)
def test_text_reply_tool_call_forms(
    content: str, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    reply = parse(TEXT, content)

    assert [(c.name, c.arguments) for c in reply.tool_calls] == expected
    assert [c.id for c in reply.tool_calls] == [f"call-3-{i}" for i in range(len(expected))]
    assert reply.final_text is None and not reply.problems
    assert reply.content == content  # stored as written, replayed as written


@pytest.mark.parametrize(
    "content",
    [
        "The answer is 395.",
        '{"name": "Ada Lovelace", "born": 1815}',  # JSON, but not a call object
        'Use it like this: {"name": "calculator"} and you\'re set.',  # not a reply-wide call
    ],
)
def test_text_reply_without_a_call_to_an_offered_tool_is_the_final_answer(content: str) -> None:
    reply = parse(TEXT, f"  {content}\n")

    assert reply.tool_calls == [] and reply.final_text == content and not reply.problems


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "total_cost", "arguments": {"shirts": 3}}',
        '```json\n{"name": "get_weather", "arguments": {}}\n```',
    ],
)
def test_a_reply_that_is_only_a_call_to_an_unknown_tool_is_refused_not_answered(
    content: str,
) -> None:
    reply = parse(TEXT, content)

    assert reply.final_text is None and len(reply.tool_calls) == 1
    assert "not available; available tools: calculator" in reply.invalid_calls["call-3-0"]


def test_a_call_missing_its_closing_brace_is_read_and_a_cut_off_one_is_not() -> None:
    short = parse(TEXT, '{"name": "current_time", "arguments": {"timezone": "UTC"}')
    cut = parse(TEXT, '{"name": "current_time", "arguments": {"timezone": "Asia/To')

    assert calls(short) == [("call-3-0", "current_time", {"timezone": "UTC"})]
    assert cut.tool_calls == [] and cut.final_text is not None


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "current_time", "arguments": {"timezone": "UTC"}',  # braces or the limit?
        '{"name": "current_time", "arguments": {"timezone": "Asia/To',
        '```json\n{"name": "current_time", "arguments": {"timezone": "Asia/To',
        '<tool_call>{"name": "current_time", "arguments": {"timezone": "Asia/To',
    ],
)
def test_a_call_cut_off_at_the_token_limit_goes_back_to_the_model_as_cut_off(
    content: str,
) -> None:
    reply = parse_model_reply(TEXT, {"content": content}, OFFERED, "call-3", cut_off=True)

    assert reply.final_text is None and [c.name for c in reply.tool_calls] == ["current_time"]
    assert "reached its token limit" in reply.invalid_calls[reply.tool_calls[0].id]


def test_an_answer_cut_off_at_the_token_limit_is_still_the_answer() -> None:
    reply = parse_model_reply(TEXT, {"content": "It is 4, and then"}, OFFERED, "c", cut_off=True)

    assert reply.tool_calls == [] and reply.final_text == "It is 4, and then"


def test_tool_call_block_naming_an_unknown_tool_is_answered_with_an_error() -> None:
    reply = parse(TEXT, '<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>')

    assert calls(reply) == [("call-3-0", "get_weather", {})]
    assert "not available" in reply.invalid_calls["call-3-0"]


def test_tool_call_block_with_broken_json_is_answered_with_an_error() -> None:
    reply = parse(TEXT, '<tool_call>{"name": "calculator", "arguments": {"expression": 17*23}}')

    assert calls(reply) == [("call-3-0", "calculator", {})]
    assert reply.invalid_calls == {"call-3-0": "the call is not valid JSON"}


def test_tool_call_block_without_any_call_is_a_final_answer_with_a_problem() -> None:
    reply = parse(TEXT, "<tool_call>oops</tool_call>")

    assert reply.tool_calls == [] and reply.final_text == "<tool_call>oops</tool_call>"
    assert reply.problems == ["a <tool_call> block holds no readable call"]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ('"not json"', "not valid JSON"),
        ('"[1, 2]"', "must be a JSON object"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_call_with_unusable_arguments_is_marked(arguments: str, error: str) -> None:
    reply = parse(TEXT, f'{{"name": "calculator", "arguments": {arguments}}}')

    assert reply.tool_calls and error in reply.invalid_calls["call-3-0"]


def test_empty_reply_is_an_empty_answer_with_a_problem() -> None:
    reply = parse(TEXT, None)

    assert reply.final_text == "" and reply.problems == ["the model returned an empty reply"]


def test_content_parts_are_read_as_text() -> None:
    reply = parse(TEXT, [{"type": "text", "text": "Par"}, {"type": "text", "text": "is"}])  # type: ignore[arg-type]

    assert reply.final_text == "Paris"


# --- replies: json_schema ----------------------------------------------------------------


def test_json_schema_final_answer() -> None:
    reply = parse(JSON_SCHEMA, '{"final_answer": "395"}')

    assert reply.final_text == "395" and reply.tool_calls == [] and not reply.problems
    assert reply.content == '{"final_answer": "395"}'


def test_json_schema_tool_calls() -> None:
    content = '{"tool_calls": [{"name": "current_time", "arguments": {"timezone": "Asia/Tokyo"}}]}'

    reply = parse(JSON_SCHEMA, content)

    assert calls(reply) == [("call-3-0", "current_time", {"timezone": "Asia/Tokyo"})]
    assert reply.final_text is None and reply.content == content


def test_json_schema_call_to_a_tool_not_offered_is_marked() -> None:
    reply = parse(JSON_SCHEMA, '{"tool_calls": [{"name": "shell", "arguments": {}}]}')

    assert "not available" in reply.invalid_calls["call-3-0"]


@pytest.mark.parametrize("content", ['{"final_answer": "39', "The answer is 395."])
def test_json_schema_reply_that_is_no_action_is_kept_as_text_with_a_problem(
    content: str,
) -> None:
    reply = parse(JSON_SCHEMA, content)

    assert reply.final_text == content and reply.tool_calls == []
    assert reply.problems == ["the reply does not match the action schema"]


def test_hostile_ids_names_and_text_from_the_model_are_cleaned_not_stored_as_given() -> None:
    reply = parse(
        NATIVE,
        "ok\x00 \ud800 done",
        tool_calls=[
            native_call(
                "calculator", '{"expression": "2+2\\u0000", "n\\u0000": "\\ud800"}', "x" * 300
            ),
            native_call("s" * 500, "{}", "bad id with spaces"),
        ],
    )

    [(first_id, name, arguments), (second_id, long_name, _)] = calls(reply)
    assert first_id == "call-3-0" and second_id == "call-3-1"  # the model's ids did not fit
    assert name == "calculator" and arguments == {"expression": "2+2", "n": "?"}
    assert long_name == "s" * 64 and "is not available" in reply.invalid_calls[second_id]
    assert reply.content == "ok ? done"


def test_a_turn_that_must_call_is_held_to_one_call_in_every_format(tools: list[Tool]) -> None:
    native = build_chat_request(NATIVE, conversation(with_result=False), tools, must_call=True)
    assert native["tool_choice"] == "required"
    for fmt in (TEXT, JSON_SCHEMA):
        body = build_chat_request(fmt, conversation(with_result=False), tools, must_call=True)
        schema = body["response_format"]["json_schema"]["schema"]
        assert "final_answer" not in json.dumps(schema)  # no answer admitted
        assert schema["properties"]["tool_calls"]["maxItems"] == 1
    free = build_chat_request(TEXT, conversation(with_result=False), tools)
    assert "response_format" not in free
