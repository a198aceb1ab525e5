"""Repairing a call to a tool that does not exist when its arguments fit exactly one that does.

Small models rename tools (`calculate`, `get_time`) yet pass the right arguments, often with
the schema's own words mixed in (`"required": ["expression"]`). Such a call goes to the one
offered tool whose parameters take its arguments and whose name shares a word with it
(`calculate` ~ `calculator`, `get_time` ~ `current_time`; `rm_rf` is no `read_file`), never to
a tool with side effects (`remove_file` does not become `delete_file`: the model must name it).
A call that fits none (or several) is refused, and the model reads the list of tools in the
refusal and asks again, once: a reply that again calls only tools that do not exist is taken
as its answer (some write their answer as a call to a made-up tool) instead of being refused
until the runaway guard stops the task.

Some models answer the refusal by repeating it ("The tool 'total_cost' is not available; …").
That is no answer: the model is asked once more in the same turn, the request restated in the
user's voice and decoding held to a call of the offered tools (told in a tool result, it copied
the calculator's example instead).

A call may also drop part of an expression the request writes out whole: asked for
"(48 + 52) * (17 - 9)", the model computes `48 + 52` and answers 100. Such an argument is
widened to the request's whole expression.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from activities.db.models import Message
from activities.model_replies import ParsedReply
from activities.model_requests import ChatMessage, build_chat_request
from activities.prompts import chat_message
from activities.tools.builtin import calculator
from activities.tools.errors import ToolError
from activities.tools.tool import Tool
from activities.turn_rules import latest_request
from workflows.contracts.model_turns import ModelTurnRequest

# JSON-schema words small models copy into their arguments; they name no parameter
_SCHEMA_WORDS = frozenset({"required", "type", "properties", "additionalProperties"})
_UNKNOWN_TOOL = "is not available; available tools:"  # model_replies.py's refusal
# a run of numbers, operators and brackets, as a request writes an expression out
_ARITHMETIC_RUN = re.compile(r"[\d\s.+\-*/×÷^()]+")  # one class: linear on any input
_OPERATOR = re.compile(r"\d\s*[-+*/×÷^]\s*[\d(]|\)\s*[-+*/×÷^]")
# words in tool names that say nothing about what a tool does
_VAGUE_WORDS = frozenset({"", "get", "set", "do", "run", "call", "tool", "file", "files", "the"})


def repair_tool_names(parsed: ParsedReply, offered: Mapping[str, Tool]) -> ParsedReply:
    """Rename each call to an unknown tool whose arguments fit exactly one offered tool."""
    for call in parsed.tool_calls:
        if call.name in offered or call.id not in parsed.invalid_calls:
            continue
        fits = [name for name, tool in offered.items() if _fits(tool, call.name, call.arguments)]
        if len(fits) != 1:
            continue
        parsed.problems.append(
            f"call {call.id}: tool {call.name!r} does not exist; its arguments fit {fits[0]!r}, "
            "which was called instead"
        )
        call.name = fits[0]
        del parsed.invalid_calls[call.id]
    return parsed


def _fits(tool: Tool, name: str, arguments: dict[str, Any]) -> bool:
    if tool.side_effects or not _alike(name, tool.name):
        return False
    schema = tool.parameters_schema
    parameters = set(schema.get("properties", {}))
    given = set(arguments) - _SCHEMA_WORDS
    return bool(given) and set(schema.get("required", [])) <= given <= parameters


def _alike(made_up: str, real: str) -> bool:
    """Whether two tool names share a telling word, or its first 4 letters (`calculate`,
    `calculator`); `remove_file` and `read_file` share only `file`, which tells nothing."""
    words = [set(re.split(r"[^a-z0-9]+", n.lower())) - _VAGUE_WORDS for n in (made_up, real)]
    return any(a == b or (a[:4] == b[:4] and len(a) >= 4) for a in words[0] for b in words[1])


def refused_an_unknown_tool(transcript: Sequence[Message]) -> bool:
    """Whether the latest tool results refused a call to a tool that does not exist."""
    for row in reversed(transcript):
        if row.role != "tool":
            return False
        if _UNKNOWN_TOOL in (row.content or ""):
            return True
    return False


def repeats_refusal(reply: Mapping[str, Any]) -> bool:
    """Whether a chat-completions reply is the refusal of an unknown tool, repeated as text."""
    message = reply["choices"][0]["message"]
    return not message.get("tool_calls") and _UNKNOWN_TOOL in str(message.get("content") or "")


def ask_to_call_body(
    request: ModelTurnRequest, rows: Sequence[Message], tools: list[Tool], echo: Mapping[str, Any]
) -> dict[str, Any]:
    """The chat request that asks again after `echo`, a refusal repeated as the answer: the
    request restated in the user's voice, the reply held to a call of the offered tools."""
    messages = [chat_message(row, request.max_tool_result_chars) for row in rows]
    restated = f"Call one of the available tools to answer: {latest_request(rows)}"
    messages += [
        ChatMessage(role="assistant", content=echo["choices"][0]["message"].get("content")),
        ChatMessage(role="user", content=restated, from_loop=True),
    ]
    body = build_chat_request(request.tool_call_format, messages, tools, must_call=True)
    body.update(model=request.model, temperature=request.temperature, max_tokens=request.max_tokens)
    return body


def after_a_repeated_refusal(echo: Mapping[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    """The reply asked for again, as the turn's one reply: with both calls' usage, and the
    repeated refusal under `asked_before` (the turn counts two model calls)."""
    usages = [echo.get("usage") or {}, reply.get("usage") or {}]
    usage: dict[str, float] = {
        key: sum(int(u.get(key) or 0) for u in usages)
        for key in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
    if any(u.get("cost_usd") is not None for u in usages):
        usage["cost_usd"] = sum(float(u.get("cost_usd") or 0.0) for u in usages)
    asked_before = {"content": echo["choices"][0]["message"].get("content")}
    return {**reply, "usage": usage, "asked_before": asked_before}


def answer_after_refusal(parsed: ParsedReply) -> ParsedReply:
    """The reply as the answer when it again calls only tools that do not exist."""
    calls = parsed.tool_calls
    if not calls or not all(_UNKNOWN_TOOL in parsed.invalid_calls.get(c.id, "") for c in calls):
        return parsed
    return ParsedReply(
        content=parsed.content,
        final_text=(parsed.content or "").strip(),
        problems=[
            *parsed.problems,
            "asked again with the list of tools, the model still called none of them: its "
            "reply is the answer",
        ],
    )


def written_expressions(request: str) -> list[str]:
    """The arithmetic expressions a request writes out, each whole ("(48 + 52) * (17 - 9)");
    a date or a lone number is none."""
    found = []
    for match in _ARITHMETIC_RUN.finditer(request):
        text = match.group().strip(" \t\n.+-*/×÷^")  # from a number or bracket to one
        if _OPERATOR.search(text) and _computes(text):
            found.append(text)
    return found


def widen_partial_expressions(parsed: ParsedReply, expressions: Sequence[str]) -> ParsedReply:
    """Each argument that is a proper part of an expression the request writes out becomes
    that whole expression."""
    wholes = {_bare(whole): whole for whole in expressions}
    for call in parsed.tool_calls:
        if call.id in parsed.invalid_calls:
            continue
        for key, value in call.arguments.items():
            if not isinstance(value, str) or _bare(value) in wholes or not _OPERATOR.search(value):
                continue
            part = _bare(value).strip("()")
            whole = next((w for bare, w in wholes.items() if _part_of(part, bare)), None)
            if whole is None or not _computes(value):
                continue
            parsed.problems.append(
                f"call {call.id}: {key}={value!r} is part of the request's {whole!r}, which "
                "was computed instead"
            )
            call.arguments[key] = whole
    return parsed


def _part_of(part: str, whole: str) -> bool:
    """Whether `part` is a proper part of `whole` made of whole numbers (`8+52` is no part of
    `48+52`)."""
    if part == whole:
        return False
    return re.search(rf"(?<![\d.]){re.escape(part)}(?![\d.])", whole) is not None


def _bare(expression: str) -> str:
    return re.sub(r"\s+", "", expression)


def _computes(expression: str) -> bool:
    try:
        calculator(expression)
    except ToolError:
        return False
    return True
