"""How tool calls are asked of a model and read back, in the three `ToolCallFormat`s.

`native` uses the OpenAI `tools` API; `text` describes the tools in the system prompt and reads
calls out of the reply (small models write `<tool_call>` blocks or bare JSON); `json_schema`
constrains decoding to an action object. The tools section goes at the end of the first system
message so the prompt prefix stays the same from turn to turn (the server's prefix cache).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from activities.tool_registry import Tool
from workflows.contracts import ToolCall, ToolCallFormat

# Worded like Qwen's own tool template: small models follow it best (measured).
_TOOLS_INTRO = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
_TEXT_INSTRUCTIONS = (
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
_JSON_SCHEMA_INSTRUCTIONS = (
    'To call functions, reply {"tool_calls": [{"name": <function-name>, "arguments": '
    '<args-json-object>}]}. To answer the user, reply {"final_answer": <answer-text>}. '
    'After a <tool_response>, reply {"final_answer": <answer-text>} unless you need another '
    "function."
)
# Small models call the same tool again instead of answering unless told, and where they are
# told matters (measured with Qwen2.5-0.5B): for `text` beside each result, for `json_schema`
# in the system prompt (there a nudge beside the result did not help).
_RESULT_NUDGE = "Use this result to answer in plain text."
_TOOL_CALL_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_FENCED_BLOCK = re.compile(r"```[\w-]*[ \t]*\n?(.*?)```", re.DOTALL)
_NAME_FIELD = re.compile(r'"(?:name|tool)"\s*:\s*"([^"]+)"')


class ChatMessage(BaseModel):
    """One message of a conversation as stored, before it is rendered for a format."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # role tool: the call this answers
    name: str | None = None  # role tool: the tool that answered


class ParsedReply(BaseModel):
    """A model reply read for the agent loop."""

    content: str | None  # what to store as the assistant message
    tool_calls: list[ToolCall] = Field(default_factory=list)
    final_text: str | None = None  # the answer, set when there are no tool calls
    problems: list[str] = Field(default_factory=list)  # for logs and events
    # Calls that must not run: call id → the error to return to the model as its result.
    invalid_calls: dict[str, str] = Field(default_factory=dict)


# --- requests ----------------------------------------------------------------------------


def build_chat_request(
    fmt: ToolCallFormat, messages: list[ChatMessage], tools: list[Tool]
) -> dict[str, Any]:
    """The chat-completions body fields that depend on the format: messages and tool options."""
    fmt = ToolCallFormat(fmt)
    if fmt is ToolCallFormat.native:
        body: dict[str, Any] = {"messages": [_native_message(m) for m in messages]}
        if tools:
            body["tools"] = [tool.openai_tool() for tool in tools]
            body["tool_choice"] = "auto"
        return body
    section = tools_prompt_section(fmt, tools)
    body = {"messages": _with_tools_section(_text_messages(fmt, messages), section)}
    if fmt is ToolCallFormat.json_schema:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "agent_action", "strict": True, "schema": action_schema(tools)},
        }
    return body


def tools_prompt_section(fmt: ToolCallFormat, tools: list[Tool]) -> str:
    """The system-prompt text that offers the tools (empty for native or without tools)."""
    if fmt is ToolCallFormat.native or not tools:
        return ""
    lines = [
        json.dumps(
            {"name": t.name, "description": t.description, "parameters": _prompt_schema(t)},
            ensure_ascii=False,
        )
        for t in tools
    ]
    rules = _TEXT_INSTRUCTIONS if fmt is ToolCallFormat.text else _JSON_SCHEMA_INSTRUCTIONS
    return _TOOLS_INTRO + "\n".join(lines) + "\n</tools>\n\n" + rules


def _prompt_schema(tool: Tool) -> dict[str, Any]:
    return {k: v for k, v in tool.parameters_schema.items() if k != "additionalProperties"}


def action_schema(tools: list[Tool]) -> dict[str, Any]:
    """A JSON schema admitting exactly a final answer or calls to the offered tools."""
    final = _object({"final_answer": {"type": "string"}})
    if not tools:
        return final
    calls = [
        _object({"name": {"type": "string", "enum": [t.name]}, "arguments": t.parameters_schema})
        for t in tools
    ]
    items = calls[0] if len(calls) == 1 else {"anyOf": calls}
    return {
        "anyOf": [final, _object({"tool_calls": {"type": "array", "minItems": 1, "items": items}})]
    }


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _native_message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
    return out


def _text_messages(fmt: ToolCallFormat, messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Assistant turns as the model wrote them; tool results as one user turn of responses."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            response = f"<tool_response>\n{message.content or ''}\n</tool_response>"
            if out and out[-1].get("tool_results"):
                out[-1]["content"] += "\n" + response
            else:
                out.append({"role": "user", "content": response, "tool_results": True})
        elif message.role == "assistant":
            out.append({"role": "assistant", "content": _assistant_text(fmt, message)})
        else:
            out.append({"role": message.role, "content": message.content or ""})
    for item in out:
        if item.pop("tool_results", False) and fmt is ToolCallFormat.text:
            item["content"] += "\n" + _RESULT_NUDGE
    return out


def _assistant_text(fmt: ToolCallFormat, message: ChatMessage) -> str:
    if (message.content and message.content.strip()) or not message.tool_calls:
        return message.content or ""
    calls = [{"name": call.name, "arguments": call.arguments} for call in message.tool_calls]
    if fmt is ToolCallFormat.json_schema:
        return json.dumps({"tool_calls": calls}, ensure_ascii=False)
    blocks = (f"<tool_call>\n{json.dumps(c, ensure_ascii=False)}\n</tool_call>" for c in calls)
    return "\n".join(blocks)


def _with_tools_section(messages: list[dict[str, Any]], section: str) -> list[dict[str, Any]]:
    if not section:
        return messages
    for message in messages:
        if message["role"] == "system":
            message["content"] = f"{message['content']}\n\n{section}".lstrip()
            return messages
    return [{"role": "system", "content": section}, *messages]


# --- replies -----------------------------------------------------------------------------


def parse_model_reply(
    fmt: ToolCallFormat, message: dict[str, Any], offered_tools: list[str], call_id_prefix: str
) -> ParsedReply:
    """Read the tool calls or the final answer out of a chat-completions `message`."""
    fmt = ToolCallFormat(fmt)
    text = _content_text(message.get("content"))
    reader = _Reader(offered_tools, call_id_prefix)
    if fmt is ToolCallFormat.native and message.get("tool_calls"):
        for index, call in enumerate(message["tool_calls"]):
            function = call.get("function") or {}
            reader.add(function.get("name"), function.get("arguments"), index, call.get("id"))
        return reader.reply(content=text or None, answer=text)
    values, marked, rest = _json_candidates(text)
    answer, schema_answer = text, False
    for value in values:
        if (
            fmt is ToolCallFormat.json_schema
            and isinstance(value, dict)
            and "final_answer" in value
        ):
            final = value["final_answer"]
            answer = final if isinstance(final, str) else json.dumps(final, ensure_ascii=False)
            schema_answer = True
        explicit = marked or (isinstance(value, dict) and "tool_calls" in value)
        for name, arguments in _call_shapes(value):
            if explicit or name in offered_tools:
                reader.add(name, arguments, len(reader.calls))
    if marked and not reader.calls:  # <tool_call> blocks, but broken: say so to the model
        for name in _NAME_FIELD.findall(text):
            reader.add(name, None, len(reader.calls), error="the call is not valid JSON")
        if not reader.calls:
            reader.problems.append("a <tool_call> block holds no readable call")
    if fmt is ToolCallFormat.json_schema and not schema_answer and not reader.calls:
        reader.problems.append("the reply does not match the action schema")
    # Native replies keep only the text around the calls: the calls themselves become tool_calls.
    content = (rest.strip() or None) if fmt is ToolCallFormat.native and reader.calls else text
    return reader.reply(content=content, answer=answer)


class _Reader:
    """Collects calls with their ids and problems while a reply is read."""

    def __init__(self, offered: list[str], prefix: str):
        self.offered, self.prefix = offered, prefix
        self.calls: list[ToolCall] = []
        self.problems: list[str] = []
        self.invalid: dict[str, str] = {}

    def add(
        self, name: Any, arguments: Any, index: int, call_id: Any = None, error: str = ""
    ) -> None:
        taken = {call.id for call in self.calls}
        if not isinstance(call_id, str) or not call_id or call_id in taken:
            call_id = f"{self.prefix}-{index}"
        name = name if isinstance(name, str) else ""
        parsed: Any = arguments
        if isinstance(arguments, str):
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                error = error or f"the arguments are not valid JSON: {arguments[:200]!r}"
        parsed = {} if parsed is None else parsed
        if not isinstance(parsed, dict):
            error, parsed = error or "the arguments must be a JSON object", {}
        if name not in self.offered:
            error = f"tool {name!r} is not available; available tools: {', '.join(self.offered)}"
        self.calls.append(ToolCall(id=call_id, name=name, arguments=parsed))
        if error:
            self.invalid[call_id] = error
            self.problems.append(f"call {call_id} ({name or 'no name'}): {error}")

    def reply(self, content: str | None, answer: str | None) -> ParsedReply:
        final = None if self.calls else (answer or "").strip()
        if final == "":
            self.problems.append("the model returned an empty reply")
        return ParsedReply(
            content=content,
            tool_calls=self.calls,
            final_text=final,
            problems=self.problems,
            invalid_calls=self.invalid,
        )


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _json_candidates(text: str) -> tuple[list[Any], bool, str]:
    """JSON values that may hold calls, whether they were explicitly marked as calls, and the
    text left around them.

    Looked for in order: `<tool_call>` blocks, fenced code blocks, JSON the reply starts with
    (several objects one per line, as small models write them; a cut-off last one is ignored).
    """
    blocks = _TOOL_CALL_BLOCK.findall(text)
    if blocks:
        values = [v for block in blocks for v in _leading_json(block)[0]]
        return values, True, _TOOL_CALL_BLOCK.sub("", text)
    fenced = _FENCED_BLOCK.findall(text)
    if fenced:
        values = []
        for block in fenced:
            found, end = _leading_json(block)
            values += found if not block[end:].strip() else []
        return values, False, _FENCED_BLOCK.sub("", text)
    values, end = _leading_json(text)
    return values, False, text[end:]


def _leading_json(text: str) -> tuple[list[Any], int]:
    """The JSON objects and arrays text starts with, and where they end."""
    decoder = json.JSONDecoder(strict=False)
    values: list[Any] = []
    position = end = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        try:
            value, after = decoder.raw_decode(text, position)
        except ValueError:
            return values, end
        if not isinstance(value, dict | list):
            return values, end
        values.append(value)
        position = end = after


def _call_shapes(value: Any) -> list[tuple[Any, Any]]:
    """(name, arguments) pairs in the shapes models write calls in."""
    if isinstance(value, list):
        return [pair for item in value for pair in _call_shapes(item)]
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("tool_calls"), list):
        return _call_shapes(value["tool_calls"])
    if isinstance(value.get("function"), dict):
        return _call_shapes(value["function"])
    name = value.get("name", value.get("tool"))
    if not isinstance(name, str):
        return []
    return [(name, value.get("arguments", value.get("parameters")))]
