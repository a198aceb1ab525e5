"""What a model turn writes to Postgres, made from the model's reply, and the turn's result
rebuilt from what an earlier attempt wrote.

Pure functions of the reply: a retry that records a reply an earlier attempt kept
(activities/kept_steps.py) writes exactly what that attempt would have written.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.engine import autocommitting
from activities.db.events import EventRepository, NewEvent
from activities.db.messages import NewMessage
from activities.db.models import Message
from activities.db.outages import outlasting_outages
from activities.db.steps import StepRepository
from activities.db.tasks import StepCounters
from activities.model_replies import ParsedReply, parse_model_reply
from activities.model_requests import final_result_given
from activities.prompts import chat_message
from activities.tool_call_repair import (
    answer_after_refusal,
    refused_an_unknown_tool,
    repair_tool_names,
    widen_partial_expressions,
    written_expressions,
)
from activities.tools.registry import ToolRegistry
from activities.turn_rules import (
    citation_for,
    cited_passages,
    latest_request,
    shown_calls,
    table_cells,
    whole_cells_quoted,
)
from workflows.contracts.model_turns import ModelTurnRequest, ModelTurnResult
from workflows.contracts.tool_calls import ToolCall


@dataclass(frozen=True)
class TurnRecord:
    message: NewMessage
    event: NewEvent
    counters: StepCounters
    parsed: ParsedReply
    counted: int | None

    def result(self, message_id: int) -> ModelTurnResult:
        return ModelTurnResult(
            message_id=message_id,
            tool_calls=self.parsed.tool_calls,
            final_text=self.parsed.final_text,
            invalid_calls=self.parsed.invalid_calls,
            quick_calls=self.event.data["quick_calls"],
            prompt_tokens=self.counters.prompt_tokens,
            completion_tokens=self.counters.completion_tokens,
            cost_usd=self.counters.cost_usd,
            counted_tokens=self.counted,
            cached_tokens=self.event.data["cached_tokens"],
            duration_ms=self.event.data["duration_ms"],
            planned=bool(self.event.data.get("planned")),
        )


@dataclass(frozen=True)
class FromTranscript:
    """What a reply's record takes from the transcript before it (kept with a kept reply)."""

    # the previous results refused a tool that does not exist (activities/tool_call_repair.py)
    asked_again: bool = False
    shown: str = ""  # the agent's `show_calls` lines, added to a final answer (turn_rules.py)
    passages: list[list[str]] = field(default_factory=list)  # [citation, text] to cite from
    # the reply was held to an answer: the last step's result came (model_requests.py)
    answer_held: bool = False
    # cells of several words in the request's table results, for an answer that quotes one in
    # part (turn_rules.py)
    cells: list[str] = field(default_factory=list)
    # the arithmetic the request writes out, for calls that drop part of it (tool_call_repair)
    expressions: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, request: ModelTurnRequest, rows: Sequence[Message]) -> FromTranscript:
        messages = [chat_message(row, request.max_tool_result_chars) for row in rows]
        return cls(
            refused_an_unknown_tool(rows),
            shown_calls(request.show_calls, rows),
            cited_passages(request.cite_from, rows),
            final_result_given(request.tool_call_format, messages),
            table_cells(rows),
            written_expressions(latest_request(rows)),
        )

    @classmethod
    def kept(cls, kept: dict[str, Any]) -> FromTranscript:
        """From a kept reply's record (kept_steps.py; older ones hold `asked_again` only)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in kept.items() if name in fields})


def turn_record(
    request: ModelTurnRequest,
    reply: dict[str, Any],
    duration_ms: int,
    counted: int | None,
    registry: ToolRegistry,
    facts: FromTranscript = FromTranscript(),
) -> TurnRecord:
    """The message, event and usage of one reply (as the LiteLLM proxy returned it)."""
    choice = reply["choices"][0]
    message, finish_reason = choice["message"], choice.get("finish_reason")
    usage = reply.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    cached_tokens = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    cost_usd = usage.get("cost_usd")
    parsed = parse_model_reply(
        request.tool_call_format,
        message,
        offered_tools=[] if facts.answer_held else request.tools,
        call_id_prefix=f"call-{request.iteration}",
        cut_off=finish_reason == "length",
    )
    offered = {name: registry.get(name) for name in request.tools if name in registry}
    parsed = repair_tool_names(parsed, offered)
    parsed = widen_partial_expressions(parsed, facts.expressions)
    if facts.asked_again:
        parsed = answer_after_refusal(parsed)
    if not parsed.tool_calls and parsed.final_text is not None:
        answer = whole_cells_quoted(parsed.final_text, facts.cells)
        if answer != parsed.final_text:
            parsed.problems.append("a result's cell quoted in part was written whole")
        citation = citation_for(answer, facts.passages)
        added = "\n".join(line for line in (facts.shown, citation) if line)
        if added:
            answer = f"{answer.rstrip()}\n\n{added}"
        if answer != parsed.final_text:
            parsed = parsed.model_copy(update={"final_text": answer, "content": answer})
    for call in parsed.tool_calls:  # approval rules judge what the tool will receive
        if call.id not in parsed.invalid_calls and call.name in registry:
            call.arguments = registry.get(call.name).normalised(call.arguments)
    quick_calls = [
        call.id
        for call in parsed.tool_calls
        if call.id in parsed.invalid_calls or call.name not in registry
        or registry.get(call.name).quick
    ]  # fmt: skip
    event = NewEvent(
        "llm_call",
        {
            "iteration": request.iteration,
            "model": request.model,
            "served_by": reply.get("model"),
            "finish_reason": finish_reason,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cached_tokens": cached_tokens,
            "cost_usd": cost_usd,
            "counted_prompt_tokens": counted,
            "duration_ms": duration_ms,
            "tool_calls": [call.name for call in parsed.tool_calls],
            "calls": call_records(parsed.tool_calls),
            "problems": parsed.problems,
            "invalid_calls": parsed.invalid_calls,
            "quick_calls": quick_calls,
            "final_text": parsed.final_text,
            # the model repeated a refusal as its answer and was asked again (llm.py)
            **({"asked_before": reply["asked_before"]} if "asked_before" in reply else {}),
        },
    )
    row = NewMessage(
        "assistant",
        parsed.content,
        tool_calls=[call.model_dump() for call in parsed.tool_calls] or None,
    )
    counters = StepCounters(
        llm_calls=2 if "asked_before" in reply else 1,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost_usd or 0.0,
        iterations=request.iteration + 1,
    )
    return TurnRecord(row, event, counters, parsed, counted)


def planned_turn_record(
    request: ModelTurnRequest,
    calls: list[ToolCall],
    registry: ToolRegistry,
    answer: str | None = None,
) -> TurnRecord:
    """The turn the loop takes itself (turn_rules.py): an assistant message with the calls
    (or, after a fan-out, the joined `answer`), as the model's would be, and a `first_calls`
    (`joined_answer`) event; no model call, no tokens."""
    names = [call.name for call in calls]
    quick_calls = [
        call.id for call in calls if call.name in registry and registry.get(call.name).quick
    ]
    parsed = ParsedReply(content=answer, tool_calls=calls, final_text=answer)
    event = NewEvent(
        "first_calls" if answer is None else "joined_answer",
        {"iteration": request.iteration, "tool_calls": names, "calls": call_records(calls),
         "quick_calls": quick_calls,
         "cached_tokens": 0, "duration_ms": 0, "planned": True, "final_text": answer},
    )  # fmt: skip
    row = NewMessage("assistant", answer, tool_calls=[c.model_dump() for c in calls] or None)
    counters = StepCounters(iterations=request.iteration + 1)
    return TurnRecord(row, event, counters, parsed, None)


async def store_turn(
    sessions: async_sessionmaker[AsyncSession],
    request: ModelTurnRequest,
    turn: TurnRecord,
    what: str,
    keep: Callable[[], None] | None = None,
) -> Message:
    """Write the turn's message, event and usage as one step (one statement: no BEGIN),
    outlasting a database outage (`keep`: what to do while it lasts, kept_steps.py)."""
    task_id, step_key = uuid.UUID(request.task_id), f"model:{request.iteration}"

    async def record() -> Message:
        async with autocommitting(sessions) as session:
            steps = StepRepository(session)
            return await steps.record(task_id, step_key, turn.message, turn.event, turn.counters)

    return await outlasting_outages(record, what, keep)


async def result_of_recorded_turn(
    session: AsyncSession, step_key: str, row: Message
) -> ModelTurnResult:
    """Rebuild a turn's result from what its first attempt recorded."""
    event = await EventRepository(session).find(row.task_id, step_key)
    data = event.data if event is not None else {}
    calls = [ToolCall.model_validate(c) for c in row.tool_calls or []]
    return ModelTurnResult(
        message_id=row.id,
        tool_calls=calls,
        final_text=None if calls else data.get("final_text", row.content or ""),
        invalid_calls=data.get("invalid_calls") or {},
        quick_calls=data.get("quick_calls") or [],
        prompt_tokens=int(data.get("prompt_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or 0),
        cost_usd=float(data.get("cost_usd") or 0.0),
        planned=bool(data.get("planned")),
    )


def call_records(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """The calls of a turn as its event records them: id, name and arguments (what
    GET /v1/responses shows as function calls)."""
    return [{"id": call.id, "name": call.name, "arguments": call.arguments} for call in calls]
