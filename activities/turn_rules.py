"""What the loop decides about a model turn from the transcript, before asking the model: the
agent's first calls that are due, and whether the model must call a tool (spec fields
`first_calls` and `tool_choice`). Both look at the latest request only: a follow-up message
starts the procedure again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from activities.answer_checks import REMINDER_PREFIX
from activities.db.models import Message
from activities.tool_calls import ERROR_PREFIX

_FIRST = "-first-"  # in the ids of the calls the loop makes itself


def first_call_id(iteration: int, index: int) -> str:
    return f"call-{iteration}{_FIRST}{index}"


def first_calls_due(first_calls: list[str], rows: Sequence[Message]) -> list[str]:
    """The agent's first calls, when the latest request has had no tool call yet."""
    since = _since_request(rows)
    if not first_calls or since is None:
        return []
    return [] if any(row.role == "assistant" and row.tool_calls for row in since) else first_calls


def must_call_tool(tool_choice: str, rows: Sequence[Message]) -> bool:
    """With `tool_choice: required`, the model has not yet called a tool of its own choice
    for the latest request (the loop's first calls do not count)."""
    since = _since_request(rows)
    if tool_choice != "required" or since is None:
        return False
    return not any(
        _FIRST not in str(call.get("id", ""))
        for row in since
        if row.role == "assistant"
        for call in row.tool_calls or []
    )


def shown_calls(show_calls: dict[str, str], rows: Sequence[Message]) -> str:
    """The lines `show_calls` makes of the latest request's calls that worked, in order,
    each once (`{"query_database": "Query: {sql}"}`: the answer shows the query it rests on)."""
    since = _since_request(rows)
    if not show_calls or since is None:
        return ""
    failed = {
        row.tool_call_id
        for row in since
        if row.role == "tool" and (row.content or "").startswith(ERROR_PREFIX)
    }
    lines: list[str] = []
    for row in since:
        for call in row.tool_calls or [] if row.role == "assistant" else []:
            template = show_calls.get(str(call.get("name")))
            if template is None or call.get("id") in failed:
                continue
            with contextlib.suppress(KeyError, IndexError, ValueError):
                line = template.format_map(call.get("arguments") or {})
                if line not in lines:
                    lines.append(line)
    return "\n".join(lines)


def _since_request(rows: Sequence[Message]) -> Sequence[Message] | None:
    """The rows after the latest user request (not a summary, not a reminder); None: none."""
    requests = [
        index
        for index, row in enumerate(rows)
        if row.role == "user"
        and row.summary_of is None
        and not (row.content or "").startswith(REMINDER_PREFIX)
    ]
    return rows[requests[-1] + 1 :] if requests else None
