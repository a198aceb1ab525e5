"""A summary step's result, from its recorded message and event (activities/memory.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.events import EventRepository
from activities.db.models import Message
from activities.db.tasks import StepCounters
from workflows.contracts.memory import SummarizeResult


def summary_counters(data: dict[str, object]) -> StepCounters:
    """What the summary adds to its task's usage, from its `memory` event's data."""
    return StepCounters(
        llm_calls=int(str(data.get("summarizer_calls") or 0)),
        prompt_tokens=int(str(data.get("prompt_tokens") or 0)),
        completion_tokens=int(str(data.get("completion_tokens") or 0)),
        cost_usd=float(str(data.get("cost_usd") or 0.0)),
    )


def summary_result(
    row: Message, message_ids: list[int], data: dict[str, object]
) -> SummarizeResult:
    replaced = set(row.summary_of or [])
    kept = [i for i in message_ids if i not in replaced]
    at = next((n for n, i in enumerate(message_ids) if i in replaced), len(message_ids))
    position = len([i for i in message_ids[:at] if i not in replaced])
    ids = [*kept[:position], row.id, *kept[position:]]
    after = data.get("tokens_after")
    return SummarizeResult(
        message_ids=ids,
        summary_id=row.id,
        replaced=len(replaced),
        tokens_before=int(str(data.get("tokens_before") or 0)),
        tokens_after=int(str(after)) if after is not None else 0,
        prompt_tokens=int(str(data.get("prompt_tokens") or 0)),
        completion_tokens=int(str(data.get("completion_tokens") or 0)),
        cost_usd=float(str(data.get("cost_usd") or 0.0)),
    )


async def result_of_recorded_summary(
    session: AsyncSession, step_key: str, row: Message, message_ids: list[int]
) -> SummarizeResult:
    event = await EventRepository(session).find(row.task_id, step_key)
    return summary_result(row, message_ids, event.data if event is not None else {})
