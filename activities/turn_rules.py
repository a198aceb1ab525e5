"""What the loop decides about a model turn from the transcript, before asking the model: the
calls it makes itself (the agent's `first_calls`, or its `fan_out` call per question), whether
the model must call a tool (`tool_choice`), and what an answer shows (`show_calls`). All look
at the latest request only: a follow-up message starts the procedure again.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

from activities.answer_checks import REMINDER_PREFIX
from activities.db.models import Message
from activities.tool_calls import ERROR_PREFIX
from workflows.contracts.agents import PlannedCall
from workflows.contracts.tool_calls import ToolCall

MAX_FAN_OUT = 4  # questions handed out at once; a longer list goes the usual way
_FIRST = "-first-"  # in the ids of the calls the loop makes itself
_FAN = "-fan-"  # ... one per question: they answer the request, the model need not call
_QUESTION_WORD = (
    r"(?:how|what|when|where|which|who|whom|whose|why|can|could|do|does|did|is|are|was|"
    r"were|may|must|should|will|would)\b"
)
_CITATION = re.compile(r"\[[\w.-]+\.md(?:#[\w-]+)?\]")
_PASSAGE = re.compile(r"(\[[\w.-]+\.md(?:#[\w-]+)?\]) ([^\n]+)")
_ROW_COUNT = re.compile(r"^\(\d+\+? rows?\b")
_SENTENCE_END = re.compile(r"(?<=[.!])\s+(?=[A-Z])")
_AND_QUESTION = re.compile(rf",?\s+(?:and|also|plus)\s+(?={_QUESTION_WORD})", re.IGNORECASE)


def first_call_id(iteration: int, index: int) -> str:
    return f"call-{iteration}{_FIRST}{index}"


def planned_calls(
    first_calls: list[PlannedCall],
    fan_out: PlannedCall | None,
    iteration: int,
    rows: Sequence[Message],
) -> list[ToolCall]:
    """The calls the loop makes before the model's first turn of a request: the fan-out
    call per question when the request asks several, else the first calls; none once the
    request has had a tool call."""
    since = _since_request(rows)
    if since is None or any(row.role == "assistant" and row.tool_calls for row in since):
        return []
    request = rows[len(rows) - len(since) - 1].content or ""
    questions = questions_of(request)
    if fan_out is not None and 1 < len(questions) <= MAX_FAN_OUT:
        return [
            ToolCall(
                id=f"call-{iteration}{_FAN}{index}",
                name=fan_out.tool,
                arguments=_filled(fan_out.arguments, request, question),
            )
            for index, question in enumerate(questions)
        ]
    return [
        ToolCall(
            id=first_call_id(iteration, index),
            name=call.tool,
            arguments=_filled(call.arguments, request, request),
        )
        for index, call in enumerate(first_calls)
    ]


def joined_answer(rows: Sequence[Message]) -> str | None:
    """After a fan-out, the answer: its calls' results in order, each once (a sub-agent's
    answer per question); None when the request was not fanned out or the model has spoken."""
    since = _since_request(rows) or []
    fanned = [
        str(call.get("id"))
        for row in since[:1]
        if row.role == "assistant"
        for call in row.tool_calls or []
        if _FAN in str(call.get("id", ""))
    ]
    results = {row.tool_call_id: row.content or "" for row in since if row.role == "tool"}
    if not fanned or len(since) != 1 + len(fanned) or set(fanned) - set(results):
        return None
    if any(results[call_id].startswith(ERROR_PREFIX) for call_id in fanned):
        return None  # a part failed: the model is asked, with the results in view
    return "\n\n".join(dict.fromkeys(results[call_id].strip() for call_id in fanned))


def _filled(arguments: dict[str, str], request: str, question: str) -> dict[str, str]:
    return {
        name: value.replace("{request}", request).replace("{question}", question)
        for name, value in arguments.items()
    }


def questions_of(text: str) -> list[str]:
    """The questions a request asks, each whole: "What is X and how many Y?" asks two. A
    question starts after the previous one or the statement before it ("Hi. Who ...?"), not
    at a full stop inside it ("after 2.5 years?", "e.g.")."""
    questions = []
    for asked in re.findall(r"[^?]*\?", text):
        sentence = _SENTENCE_END.split(asked.strip())[-1]
        for part in _AND_QUESTION.split(sentence):
            part = part.strip().rstrip("?").strip()
            if part:
                questions.append(f"{part[0].upper()}{part[1:]}?")
    return questions


def must_call_tool(tool_choice: str, rows: Sequence[Message]) -> bool:
    """With `tool_choice: required`, the model has not yet called a tool of its own choice
    for the latest request (the loop's first calls do not count)."""
    since = _since_request(rows)
    if tool_choice != "required" or since is None:
        return False
    return not any(
        _FIRST not in str(call.get("id", ""))  # a fan-out's calls count: they answer it
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


def cited_passages(cite_from: list[str], rows: Sequence[Message]) -> list[list[str]]:
    """[citation, text] of each marked passage in this request's results of `cite_from`."""
    since = _since_request(rows) or []
    names = {
        str(call.get("id")): str(call.get("name"))
        for row in since
        if row.role == "assistant"
        for call in row.tool_calls or []
    }
    return [
        [marker, passage]
        for row in since
        if row.role == "tool" and names.get(row.tool_call_id or "") in cite_from
        for marker, passage in _PASSAGE.findall(row.content or "")
    ]


def table_cells(rows: Sequence[Message]) -> list[str]:
    """The cells of several words (a name, not a text) in this request's table results (a
    result that ends with its row count, like query_database's), longest first."""
    since = _since_request(rows) or []
    cells: set[str] = set()
    for row in since:
        lines = (row.content or "").splitlines() if row.role == "tool" else []
        if not lines or not _ROW_COUNT.match(lines[-1]):
            continue
        for line in lines[:-1]:
            if not line.startswith("Query:"):
                cells.update(c.strip() for c in line.split(" | ") if 2 <= len(c.split()) <= 12)
    return sorted(cells, key=len, reverse=True)


def whole_cells_quoted(answer: str, cells: Sequence[str]) -> str:
    """The answer with a cell it quotes in part, leading or trailing words left off
    ("coffee 500g" for the row's "Filter coffee 500g"), written whole: small models drop the
    words of a name that read like a verb or an adjective. A part is at least two words and
    half of the cell's."""
    for cell in cells:
        if cell.lower() in answer.lower():
            continue
        words = cell.split()
        parts = [" ".join(words[i:]) for i in range(1, len(words))]
        parts += [" ".join(words[:i]) for i in range(len(words) - 1, 0, -1)]
        for part in sorted(parts, key=len, reverse=True):
            if len(part.split()) < max(2, len(words) / 2):
                continue
            found = re.search(rf"(?<!\w){re.escape(part)}(?!\w)", answer, re.IGNORECASE)
            if found:
                answer = answer[: found.start()] + cell + answer[found.end() :]
                break
    return answer


def citation_for(answer: str, passages: list[list[str]]) -> str:
    """ "Source: [citation]" of the passage that shares the most words with the answer; ""
    when the answer cites already or shares no word with any."""
    if _CITATION.search(answer):
        return ""
    words = _words(answer)
    best, shared = "", 0
    for marker, passage in passages:
        overlap = len(words & _words(passage))
        if overlap > shared:
            best, shared = marker, overlap
    return f"Source: {best}" if best else ""


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z0-9]+", text.lower()) if len(word) > 2}


def latest_request(rows: Sequence[Message]) -> str:
    """What the latest request asks ("" when a summary came after it: it is not in view)."""
    since = _since_request(rows)
    if since is None:
        return ""
    return rows[len(rows) - len(since) - 1].content or ""


def _since_request(rows: Sequence[Message]) -> Sequence[Message] | None:
    """The rows after the latest user request (not a summary, not a reminder); None: none,
    or a summary came after it (what the request led to is in the summary, not in view)."""
    requests = [
        index
        for index, row in enumerate(rows)
        if row.role == "user"
        and row.summary_of is None
        and not (row.content or "").startswith(REMINDER_PREFIX)
    ]
    if not requests or any(row.summary_of is not None for row in rows[requests[-1] + 1 :]):
        return None
    return rows[requests[-1] + 1 :]
