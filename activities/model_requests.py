"""Asking a model for tool calls, in the three `ToolCallFormat`s.

`native` uses the OpenAI `tools` API; `text` describes the tools in the system prompt (the model
writes calls as JSON or `<tool_call>` blocks); `json_schema` constrains decoding to an action
object. The tools section goes at the end of the first system message so the prompt prefix
stays the same from turn to turn (the server's prefix cache).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from activities.request_steps import next_step, steps_of
from activities.tools.tool import Tool
from workflows.contracts.agents import ToolCallFormat
from workflows.contracts.tool_calls import ToolCall

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
# ... unless the request names its steps in order (activities/request_steps.py): the request
# is shown with its first step, each result with the next step; a number the step starts from
# ("from 391, add 1000": with "add 1000, using 391" the model computed 15% of 200 alone)
_FIRST_STEP_NUDGE = "Step 1: {step}."
_NEXT_STEP_NUDGE = "Step {done} is done. Step {next}: {step}."
_NEXT_VALUE_STEP_NUDGE = "Step {done} gave {result}. Step {next}: from {result}, {step}."
# ... and the last step's number is the answer (told to "use this result", the model summed up
# the first steps instead)
_LAST_VALUE_NUDGE = "Step {done} gave {result}, the final result. Answer with it."
# ... and after the model asked again for a call it has the result of (no tools offered then)
_ANSWER_NOW_NUDGE = "You already have this result. Answer the user now."
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)


class ChatMessage(BaseModel):
    """One message of a conversation as stored, before it is rendered for a format."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # role tool: the call this answers
    name: str | None = None  # role tool: the tool that answered
    # role user, written by the loop (a memory summary, an answer check's reminder): no new
    # request, so the steps of the one before still count
    from_loop: bool = False


def build_chat_request(
    fmt: ToolCallFormat, messages: list[ChatMessage], tools: list[Tool], must_call: bool = False
) -> dict[str, Any]:
    """The chat-completions body fields that depend on the format: messages and tool options;
    `must_call`: the reply is held to tool calls (`tool_choice: required`; for the text
    formats, decoding held to the calls part of the action schema)."""
    fmt = ToolCallFormat(fmt)
    must_call = must_call and bool(tools)
    if fmt is ToolCallFormat.native:
        body: dict[str, Any] = {"messages": [_native_message(m) for m in messages]}
        if tools:
            body["tools"] = [tool.openai_tool() for tool in tools]
            body["tool_choice"] = "required" if must_call else "auto"
        return body
    section = tools_prompt_section(fmt, tools)
    # no tools offered after tool results: the model repeated a call it has the result of
    # (workflows/agent_task.py), and decoding is held to an answer
    answer_now = not tools and any(message.role == "tool" for message in messages)
    rendered = _text_messages(fmt, messages, answer_now)
    body = {"messages": _with_tools_section(rendered, section)}
    # ... and so it is after the last step's result, the tools kept in the prompt (its prefix
    # stays the server's cached one)
    held = final_result_given(fmt, messages)
    if fmt is ToolCallFormat.json_schema or answer_now or must_call or held:
        schema = action_schema([] if held else tools, calls_only=must_call)
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "agent_action", "strict": True, "schema": schema},
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


def action_schema(tools: list[Tool], calls_only: bool = False) -> dict[str, Any]:
    """A JSON schema admitting exactly a final answer or calls to the offered tools (only
    one call, when `calls_only`)."""
    final = _object({"final_answer": {"type": "string"}})
    if not tools:
        return final
    calls = [
        _object({"name": {"type": "string", "enum": [t.name]}, "arguments": t.parameters_schema})
        for t in tools
    ]
    items = calls[0] if len(calls) == 1 else {"anyOf": calls}
    calling = _object({"tool_calls": {"type": "array", "minItems": 1, "items": items}})
    if not calls_only:
        return {"anyOf": [final, calling]}
    # held to calls, a small model goes on adding calls until its token limit: one is enough
    return _object({"tool_calls": {"type": "array", "minItems": 1, "maxItems": 1, "items": items}})


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


def final_result_given(fmt: ToolCallFormat, messages: list[ChatMessage]) -> bool:
    """Format `text`: the latest results are the number of the request's last step ("Step 2
    gave 42, the final result."), so the next reply is held to an answer (left free, the
    model asked the calculator for "42" before it answered)."""
    if ToolCallFormat(fmt) is not ToolCallFormat.text or not messages:
        return False
    opened = _result_rounds(messages)
    if messages[-1].role != "tool" or not opened:
        return False
    index = max(opened)
    request, rounds = opened[index]
    return _last_value(steps_of(request), rounds, messages[index].content or "") is not None


def _result_rounds(messages: list[ChatMessage]) -> dict[int, tuple[str, int]]:
    """For each message that opens a turn's results: the request they answer (the latest
    user message the loop did not write) and their round since it (1 for the first)."""
    opened: dict[int, tuple[str, int]] = {}
    request, rounds = "", 0
    for index, message in enumerate(messages):
        if message.role == "tool" and (index == 0 or messages[index - 1].role != "tool"):
            rounds += 1
            opened[index] = (request, rounds)
        elif message.role == "user" and not message.from_loop:
            request, rounds = message.content or "", 0
    return opened


def _text_messages(
    fmt: ToolCallFormat, messages: list[ChatMessage], answer_now: bool
) -> list[dict[str, Any]]:
    """Assistant turns as the model wrote them; tool results as one user turn of responses,
    each followed (format `text`) by what to do next: the request's next step, else answer.
    `answer_now` (no tools offered this turn): the last results say to answer at once."""
    out: list[dict[str, Any]] = []
    opened = _result_rounds(messages)
    for index, message in enumerate(messages):
        if message.role == "tool":
            response = f"<tool_response>\n{message.content or ''}\n</tool_response>"
            if index not in opened:  # another result of the same turn
                out[-1]["content"] += "\n" + response
            else:
                nudge = _after_result(*opened[index], message.content or "")
                out.append({"role": "user", "content": response, "tool_results": nudge})
        elif message.role == "assistant":
            out.append({"role": "assistant", "content": _assistant_text(fmt, message)})
        else:
            content = message.content or ""
            if message.role == "user" and not message.from_loop:
                first = next_step(content, 0)
                if first is not None and fmt is ToolCallFormat.text:
                    content += "\n" + _FIRST_STEP_NUDGE.format(step=first)
            out.append({"role": message.role, "content": content})
    last = max((i for i, item in enumerate(out) if "tool_results" in item), default=None)
    for index, item in enumerate(out):
        nudge = item.pop("tool_results", None)
        if index == last and answer_now:
            nudge = _ANSWER_NOW_NUDGE
        if nudge is not None and fmt is ToolCallFormat.text:
            item["content"] += "\n" + nudge
    return out


def _after_result(request: str, rounds: int, result: str) -> str:
    steps, value = steps_of(request), result.strip()
    number = _NUMBER.fullmatch(value) is not None  # a status line is nothing to build on
    if len(steps) < 2 or rounds > len(steps):
        return _RESULT_NUDGE
    if rounds == len(steps):
        last = _last_value(steps, rounds, value)
        return _LAST_VALUE_NUDGE.format(done=rounds, result=last) if last else _RESULT_NUDGE
    step = steps[rounds]
    if not number:
        return _NEXT_STEP_NUDGE.format(done=rounds, next=rounds + 1, step=step)
    return _NEXT_VALUE_STEP_NUDGE.format(done=rounds, next=rounds + 1, step=step, result=value)


def _last_value(steps: list[str], rounds: int, result: str) -> str | None:
    """The result of the last of several steps, when it is a number (the answer)."""
    value = result.strip()
    if len(steps) < 2 or rounds != len(steps) or _NUMBER.fullmatch(value) is None:
        return None
    return value


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
