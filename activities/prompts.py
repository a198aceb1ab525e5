"""The prompt of a model turn, from the stored transcript: what the model is shown of each
message. Tool results over the agent's cap are cut here, never in the transcript, with a note
of how much was cut and where the whole text is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.answer_checks import REMINDER_PREFIX
from activities.db.models import Message
from activities.model_requests import ChatMessage, build_chat_request
from activities.tools.tool import Tool
from workflows.contracts.agents import ToolCallFormat
from workflows.contracts.tool_calls import ToolCall


def prompt_body(
    fmt: ToolCallFormat,
    rows: Sequence[Message],
    tools: list[Tool],
    max_tool_result_chars: int,
    must_call: bool = False,
) -> dict[str, Any]:
    """The chat-completions fields that depend on the transcript: messages and tool options
    (`must_call`: the reply is held to tool calls)."""
    messages = [chat_message(row, max_tool_result_chars) for row in rows]
    return build_chat_request(fmt, messages, tools, must_call)


def chat_message(row: Message, max_tool_result_chars: int) -> ChatMessage:
    content = row.content
    if row.role == "tool" and content is not None and len(content) > max_tool_result_chars:
        content = truncated(content, max_tool_result_chars, row)
    return ChatMessage(
        role=row.role,
        content=content,
        tool_calls=[ToolCall.model_validate(c) for c in row.tool_calls or []],
        tool_call_id=row.tool_call_id,
        name=row.name,
        from_loop=row.role == "user"
        and (row.summary_of is not None or (content or "").startswith(REMINDER_PREFIX)),
    )


def truncated(content: str, limit: int, row: Message) -> str:
    cut = len(content) - limit
    return (
        f"{content[:limit]}\n[truncated: {cut} of {len(content)} characters cut; the whole "
        f"result is message {row.id} of /v1/tasks/{row.task_id}/messages]"
    )
