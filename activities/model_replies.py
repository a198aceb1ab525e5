"""Reading tool calls or a final answer out of a model reply, in the three `ToolCallFormat`s.

Small models write calls as bare or fenced JSON, one object per line, or `<tool_call>` blocks;
native replies carry OpenAI `tool_calls`; constrained replies are an action object.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

from workflows.contracts.agents import ToolCallFormat
from workflows.contracts.tool_calls import ToolCall

_TOOL_CALL_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_FENCED_BLOCK = re.compile(r"```[\w-]*[ \t]*\n?(.*?)```", re.DOTALL)
_CUT_OFF = (
    "the reply reached its token limit before this call was complete; write a shorter call "
    "(split long content over several calls)"
)
_NAME_FIELD = re.compile(r'"(?:name|tool)"\s*:\s*"([^"]+)"')
# what is kept of the model's own call ids and tool names (the columns hold 100 and 200)
_CALL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
MAX_NAME_CHARS = 64


class ParsedReply(BaseModel):
    """A model reply read for the agent loop."""

    content: str | None  # what to store as the assistant message
    tool_calls: list[ToolCall] = Field(default_factory=list)
    final_text: str | None = None  # the answer, set when there are no tool calls
    problems: list[str] = Field(default_factory=list)  # for logs and events
    # Calls that must not run: call id → the error to return to the model as its result.
    invalid_calls: dict[str, str] = Field(default_factory=dict)


def parse_model_reply(
    fmt: ToolCallFormat,
    message: dict[str, Any],
    offered_tools: list[str],
    call_id_prefix: str,
    cut_off: bool = False,
) -> ParsedReply:
    """Read the tool calls or the final answer out of a chat-completions `message`;
    `cut_off`: the reply stopped at its token limit (finish_reason "length")."""
    fmt = ToolCallFormat(fmt)
    text = _content_text(message.get("content"))
    reader = _Reader(offered_tools, call_id_prefix)
    answer = _held_answer(text) if not offered_tools else None
    if answer is not None:  # no tools offered: decoding was held to the answer schema
        return reader.reply(content=answer, answer=answer)
    if fmt is ToolCallFormat.native and message.get("tool_calls"):
        for index, call in enumerate(message["tool_calls"]):
            function = call.get("function") or {}
            reader.add(function.get("name"), function.get("arguments"), index, call.get("id"))
        return reader.reply(content=text or None, answer=text)
    values, marked, rest = _json_candidates(text, complete=not cut_off)
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
            # a reply that is nothing but a call object is a call, even to a tool that does
            # not exist: repaired or refused (with the tool list), never given as the answer
            if (
                explicit
                or name in offered_tools
                or (isinstance(arguments, dict) and not rest.strip())
            ):
                reader.add(name, arguments, len(reader.calls))
    if cut_off and not reader.calls and text.lstrip().startswith(("{", "```", "<tool_call>")):
        # a call the token limit cut short: told so, the model can write it shorter; taken as
        # the answer, the user would get half a JSON object
        for name in _NAME_FIELD.findall(text)[:1]:
            reader.add(name, None, 0, error=_CUT_OFF)
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


def _held_answer(text: str) -> str | None:
    """The answer of a reply held to the answer schema (`{"final_answer": …}`); None for any
    other reply (a server that ignores the schema may still write a call: it is refused)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("final_answer"), str):
        return str(value["final_answer"])
    return None


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
        if not isinstance(call_id, str) or not _CALL_ID.fullmatch(call_id) or call_id in taken:
            call_id = f"{self.prefix}-{index}"
        name = clean_text(name)[:MAX_NAME_CHARS] if isinstance(name, str) else ""
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
        self.calls.append(ToolCall(id=call_id, name=name, arguments=clean_json(parsed)))
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


def clean_text(text: str) -> str:
    """Model text as Postgres can store it: NULs dropped, lone surrogates replaced."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def clean_json(value: Any) -> Any:
    """`clean_text` on every string of a JSON value, keys too."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return clean_text("".join(part for part in parts if isinstance(part, str)))
    return clean_text(content) if isinstance(content, str) else ""


def _json_candidates(text: str, complete: bool = True) -> tuple[list[Any], bool, str]:
    """JSON values that may hold calls, whether they were explicitly marked as calls, and the
    text left around them.

    Looked for in order: `<tool_call>` blocks, fenced code blocks, JSON the reply starts with
    (several objects one per line, as small models write them; a cut-off last one is ignored).
    """
    blocks = _TOOL_CALL_BLOCK.findall(text)
    if blocks:
        values = [v for block in blocks for v in _leading_json(block, complete)[0]]
        return values, True, _TOOL_CALL_BLOCK.sub("", text)
    fenced = _FENCED_BLOCK.findall(text)
    if fenced:
        values = []
        for block in fenced:
            found, end = _leading_json(block, complete)
            values += found if not block[end:].strip() else []
        return values, False, _FENCED_BLOCK.sub("", text)
    values, end = _leading_json(text, complete)
    return values, False, text[end:]


def _leading_json(text: str, complete: bool = True) -> tuple[list[Any], int]:
    """The JSON objects and arrays text starts with, and where they end; `complete`: the
    reply was not cut off, so closing braces it lacks were left off, not cut."""
    decoder = json.JSONDecoder(strict=False)
    values: list[Any] = []
    position = end = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        try:
            value, after = decoder.raw_decode(text, position)
        except ValueError:
            closed = _closing_braces_added(text[position:]) if complete else None
            return (values + [closed], len(text)) if closed is not None else (values, end)
        if not isinstance(value, dict | list):
            return values, end
        values.append(value)
        position = end = after


def _closing_braces_added(rest: str) -> dict[str, Any] | None:
    """The object `rest` is once the closing braces small models leave off are added
    (`{"name": "list_files", "arguments": {}` ), when nothing but those is missing."""
    rest = rest.rstrip()
    if not rest.startswith("{") or not rest.endswith("}"):
        return None
    for missing in range(1, 3):
        try:
            value = json.loads(rest + "}" * missing, strict=False)
        except ValueError:
            continue
        return value if isinstance(value, dict) else None
    return None


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
