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
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from activities.db.models import Message
from activities.model_replies import ParsedReply
from activities.tools.tool import Tool

# JSON-schema words small models copy into their arguments; they name no parameter
_SCHEMA_WORDS = frozenset({"required", "type", "properties", "additionalProperties"})
_UNKNOWN_TOOL = "is not available; available tools:"  # model_replies.py's refusal
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
