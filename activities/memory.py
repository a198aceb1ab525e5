"""Summarising memory: older turns of a long task are replaced by one summary message, made by
the `summarize` model group, so every prompt stays under the model's context budget.

What stays byte-identical keeps the model server's prefix cache valid: the system prompt (with
the tool list) and the first user message lead every prompt, and the summary goes right after
them. The last `keep_recent` turns stay verbatim; a turn is a message with the tool results
that answer it, so a tool call is never split from its result. A later summary folds the
earlier one in (a summary of summaries). The summary is a durable step: stored once under its
step key, found again on retry and replay.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.chat_completions import complete_chat
from activities.db.events import NewEvent
from activities.db.messages import MessageRepository, NewMessage
from activities.db.models import Message
from activities.db.outages import outlasting_outages
from activities.db.steps import StepRepository
from activities.heartbeat import HeartbeatDetails, heartbeating
from activities.kept_steps import keeper, kept_outcome
from activities.prompts import prompt_body
from activities.spend_guard import SpendGuard
from activities.summary_fallback import extractive_summary, rejection_reason
from activities.summary_records import (
    result_of_recorded_summary,
    summary_counters,
    summary_result,
)
from activities.token_counts import TEMPLATE_ALLOWANCE, TokenCounter, TokenCountError
from activities.tools.registry import ToolRegistry
from activities.trace_export import NO_TRACE_EXPORT, TraceExport
from workflows.contracts.agents import ToolCallFormat
from workflows.contracts.memory import SummarizeRequest, SummarizeResult

SUMMARY_HEADER = "[Summary of the earlier work on this task; the turns it replaces are in the "
INSTRUCTIONS = (
    "You keep the working memory of an AI agent that is partway through a task. Summarise "
    "the work below so the agent can carry on without it: facts found, numbers and tool "
    "results it still needs (exact values), files and names, what is done and what is left. "
    "Keep an earlier summary's facts. Plain text, no preamble."
)
TASK_LABEL, SO_FAR_LABEL, WORK_LABEL = "The task:", "Summary so far:", "Work to summarise:"
EARLIER = "Earlier summary: "
ITEM_CHARS = 2_000  # of one message, in the summariser's input
TASK_CHARS = 1_500  # of the task's first message, shown to the summariser for context
MIN_CHUNK_BYTES = 512


@dataclass(frozen=True)
class Split:
    head: list[Message]  # system prompt and first user message: never touched
    middle: list[Message]  # replaced by the summary
    tail: list[Message]  # the last turns, kept verbatim


def split_for_summary(rows: Sequence[Message], keep_recent: int) -> Split:
    """Where the summary goes; a turn starts at any message that is not a tool result."""
    first_user = next((i for i, row in enumerate(rows) if row.role == "user"), len(rows) - 1)
    head, rest = list(rows[: first_user + 1]), list(rows[first_user + 1 :])
    starts = [i for i, row in enumerate(rest) if row.role != "tool"]
    if keep_recent == 0:
        cut = len(rest)
    elif keep_recent < len(starts):
        cut = starts[-keep_recent]
    else:
        cut = 0  # no more turns than are kept: nothing to summarise
    middle, tail = rest[:cut], rest[cut:]
    if len(middle) == 1 and middle[0].summary_of:
        middle, tail = [], rest  # a lone summary cannot shrink further
    return Split(head, middle, tail)


class MemoryActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        registry: ToolRegistry,
        tokens: TokenCounter | None = None,
        spend: SpendGuard | None = None,
        trace: TraceExport = NO_TRACE_EXPORT,
    ) -> None:
        """`http` is pointed at the LiteLLM proxy and carries its key; `tokens` measures the
        prompt after the summary (None: not measured); `spend` holds the summariser's calls to
        the tenant's monthly spend limit (None: not held); `trace` is told of each summary."""
        self._sessions = session_factory
        self._http = http
        self._registry = registry
        self._tokens = tokens
        self._spend = spend
        self._trace = trace

    @activity.defn
    async def summarize(self, request: SummarizeRequest) -> SummarizeResult:
        """Heartbeats for the whole attempt (a dead worker is noticed in seconds)."""
        details = HeartbeatDetails()
        return await heartbeating(self._summarize(request, details), details=details)

    async def _summarize(
        self, request: SummarizeRequest, details: HeartbeatDetails
    ) -> SummarizeResult:
        task_id, step_key = uuid.UUID(request.task_id), f"summary:{request.iteration}"
        kept = kept_outcome(step_key)
        if kept is not None:  # an earlier attempt made the summary but could not record it
            return await self._record(request, kept["content"], kept["data"], details)

        async def recorded_or_transcript() -> SummarizeResult | list[Message]:
            async with self._sessions() as session:
                done = await StepRepository(session).find(task_id, step_key)
                if done is not None:
                    return await result_of_recorded_summary(
                        session, step_key, done, request.message_ids
                    )
                return list(await MessageRepository(session).load(task_id, request.message_ids))

        rows = await outlasting_outages(recorded_or_transcript, "summary: reading")
        if isinstance(rows, SummarizeResult):
            return rows
        split = split_for_summary(rows, request.memory.keep_recent)
        if not split.middle:
            return SummarizeResult(message_ids=request.message_ids)

        started = time.monotonic()
        try:
            text, usage = await self._summarise(request, split)
        except BaseException:
            if self._spend is not None:
                await self._spend.release(task_id, step_key)
            raise
        replaced = [row.id for row in split.middle]
        content = f"{SUMMARY_HEADER}transcript as messages {min(replaced)}–{max(replaced)}]\n{text}"
        tokens_after = await self._count_after(request, split, content)
        data: dict[str, Any] = {
            "type": "summarize",
            "iteration": request.iteration,
            "model": request.memory.model,
            "replaced": replaced,
            "tokens_before": request.tokens_before,
            "tokens_after": tokens_after,
            "tokens_saved": None if tokens_after is None else request.tokens_before - tokens_after,
            "summarizer_calls": usage.calls,
            "rejected": usage.rejected,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost_usd": usage.cost_usd,
            "duration_ms": int((time.monotonic() - started) * 1000),
        }
        return await self._record(request, content, data, details)

    async def _record(
        self,
        request: SummarizeRequest,
        content: str,
        data: dict[str, Any],
        details: HeartbeatDetails,
    ) -> SummarizeResult:
        """The summary is paid for: an outage delays its recording (the summary kept in
        Temporal meanwhile, for a retry elsewhere: kept_steps.py), it never buys it twice."""
        task_id, step_key = uuid.UUID(request.task_id), f"summary:{request.iteration}"
        summary = NewMessage("user", content, summary_of=list(data["replaced"]))
        event, counters = NewEvent("memory", data), summary_counters(data)

        async def record() -> Message:
            async with self._sessions.begin() as session:
                steps = StepRepository(session)
                return await steps.record(task_id, step_key, summary, event, counters)

        keep = keeper(details, step_key, lambda: {"content": content, "data": data})
        row = await outlasting_outages(record, "summary: recording", keep)
        self._trace.summary(request, data, content)
        return summary_result(row, request.message_ids, data)

    async def _summarise(self, request: SummarizeRequest, split: Split) -> tuple[str, _Usage]:
        """Fold the middle into a summary, a chunk at a time when it is larger than the
        summariser's own context; a text that cannot be trusted is replaced by an extract."""
        task = (split.head[-1].content or "")[:TASK_CHARS] if split.head else ""
        items = [_as_text(row) for row in split.middle]
        usage, summary = _Usage(), ""
        chunks = _chunks(items, self._chunk_bytes(request, task))
        if self._spend is not None:  # a prompt holds at most its bytes in tokens
            fixed = len((INSTRUCTIONS + task + TASK_LABEL + SO_FAR_LABEL + WORK_LABEL).encode())
            sizes = [fixed + sum(len(item.encode()) + 1 for item in chunk) for chunk in chunks]
            await self._spend.reserve_summary(request, sizes)
        for chunk in chunks:
            parts = [f"{TASK_LABEL}\n{task}"]
            if summary:
                parts.append(f"{SO_FAR_LABEL}\n{summary}")
            parts.append(f"{WORK_LABEL}\n" + "\n".join(chunk))
            body = {
                "model": request.memory.model,
                "messages": [
                    {"role": "system", "content": INSTRUCTIONS},
                    {"role": "user", "content": "\n\n".join(parts)},
                ],
                "temperature": 0.0,
                "max_tokens": request.memory.summary_max_tokens,
            }
            reply = await complete_chat(self._http, body)
            text = str(reply["choices"][0]["message"].get("content") or "").strip()
            reason = rejection_reason(text, (SO_FAR_LABEL, WORK_LABEL))
            if reason is not None:
                usage.rejected.append(reason)
                items = _extract_items(summary, chunk)
                text = extractive_summary(items, request.memory.summary_max_tokens)
            summary = text
            got = reply.get("usage") or {}
            usage.calls += 1
            usage.prompt_tokens += int(got.get("prompt_tokens") or 0)
            usage.completion_tokens += int(got.get("completion_tokens") or 0)
            usage.cost_usd += float(got.get("cost_usd") or 0.0)
        return summary, usage

    def _chunk_bytes(self, request: SummarizeRequest, task: str) -> int | None:
        """How much of the middle one summariser prompt may carry (bytes bound tokens)."""
        budget = request.memory.budget
        if budget is None:
            return None
        fixed = len((INSTRUCTIONS + task).encode()) + 4 * request.memory.summary_max_tokens
        return max(MIN_CHUNK_BYTES, budget.prompt_tokens - TEMPLATE_ALLOWANCE - fixed)

    async def _count_after(
        self, request: SummarizeRequest, split: Split, summary: str
    ) -> int | None:
        if self._tokens is None:
            return None
        rows = [*split.head, Message(id=0, task_id=uuid.UUID(request.task_id), role="user",
                                     content=summary), *split.tail]  # fmt: skip
        tools = [self._registry.get(name) for name in request.tools]
        body = prompt_body(
            ToolCallFormat(request.tool_call_format), rows, tools, request.max_tool_result_chars
        )
        try:
            return await self._tokens.count(request.model, body)
        except TokenCountError:
            return None  # only the event's figure is missing


@dataclass
class _Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    rejected: list[str] = field(default_factory=list)  # why a summariser text was replaced


def _as_text(row: Message) -> str:
    content = (row.content or "").strip()
    if row.summary_of and content.startswith(SUMMARY_HEADER):
        content = content.partition("\n")[2]  # the header is for readers of the transcript
    if len(content) > ITEM_CHARS:
        content = content[:ITEM_CHARS] + " …[cut]"
    if row.summary_of:
        return f"{EARLIER}{content}"
    if row.role == "tool":
        return f"Result of {row.name or 'a tool'}: {content}"
    if row.role == "assistant" and row.tool_calls and not content:
        calls = ", ".join(f"{c.get('name')}({c.get('arguments')})" for c in row.tool_calls)
        return f"Assistant called {calls}"
    return f"{row.role.capitalize()}: {content}"


def _extract_items(summary: str, chunk: list[str]) -> list[str]:
    """An earlier summary gives its lines one by one, so an extract of an extract keeps the
    opening of each fact rather than the opening of the whole."""
    items = summary.splitlines()
    for item in chunk:
        earlier = item.startswith(EARLIER)
        items.extend(item.removeprefix(EARLIER).splitlines() if earlier else [item])
    return items


def _chunks(items: list[str], limit: int | None) -> list[list[str]]:
    if limit is None:
        return [items]
    chunks: list[list[str]] = [[]]
    size = 0
    for item in items:
        encoded = item.encode()
        if len(encoded) > limit:
            item = encoded[:limit].decode(errors="ignore")
        if chunks[-1] and size + len(item.encode()) + 1 > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += len(item.encode()) + 1
    return chunks
