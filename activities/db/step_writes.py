"""The one statement that records a step (activities/db/steps.py): data-modifying CTEs that
insert the step's message and, only when that insert took (a retried step finds its message
there already and writes nothing), its event, its task's counters and its spend settlement.

All parts see one snapshot and commit together; triggers fire as for separate statements (the
event's ordering lock and notification, deploy/migrations 0007, 0010, 0011).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import TextualSelect, bindparam, text

from activities.db.events import NewEvent
from activities.db.messages import NewMessage
from activities.db.models import Message, TaskEvent
from activities.db.spend import settling
from activities.db.tasks import StepCounters

_MESSAGE = """
    m AS (
        INSERT INTO messages
            (task_id, step_key, role, content, tool_calls, tool_call_id, name, summary_of)
        VALUES
            (:task_id, :step_key, :role, :content, :tool_calls, :tool_call_id, :name, :summary_of)
        ON CONFLICT ON CONSTRAINT uq_messages_task_step DO NOTHING
        RETURNING {returning}
    )"""
_EVENT = """
    e AS (
        INSERT INTO task_events (task_id, step_key, type, data)
        SELECT m.task_id, m.step_key, CAST(:event_type AS varchar), CAST(:event_data AS jsonb)
        FROM m
        ON CONFLICT ON CONSTRAINT uq_task_events_task_step DO NOTHING
    )"""
_COUNTERS = """
    t AS (
        UPDATE tasks SET
            llm_calls = llm_calls + :llm_calls,
            tool_calls = tool_calls + :tool_calls_made,
            prompt_tokens = prompt_tokens + :prompt_tokens,
            completion_tokens = completion_tokens + :completion_tokens,
            cost_usd = cost_usd + :cost_usd,
            updated_at = :now{iterations}
        WHERE id = :task_id AND EXISTS (SELECT FROM m)
    )"""


def step_statement(with_event: bool, counters: StepCounters | None, settles: bool) -> TextualSelect:
    """The statement for a step with (or without) an event, counters, a settlement."""
    return _statement(with_event, counters is not None, _sets_iterations(counters), settles)


def _sets_iterations(counters: StepCounters | None) -> bool:
    return counters is not None and counters.iterations is not None


@cache
def _statement(with_event: bool, counts: bool, iterations: bool, settles: bool) -> TextualSelect:
    table = Message.__table__.c
    parts = [_MESSAGE.format(returning=", ".join(column.name for column in table))]
    if with_event:
        parts.append(_EVENT)
    if counts:
        iterations_set = ",\n            iterations = :iterations" if iterations else ""
        parts.append(_COUNTERS.format(iterations=iterations_set))
    if settles:
        parts.append(settling(" AND EXISTS (SELECT FROM m)"))
    sql = "WITH" + ",".join(parts) + "\nSELECT * FROM m"
    binds = [
        bindparam("tool_calls", type_=table.tool_calls.type),
        bindparam("summary_of", type_=table.summary_of.type),
    ]
    if with_event:
        binds.append(bindparam("event_data", type_=TaskEvent.__table__.c.data.type))
    return text(sql).bindparams(*binds).columns(*table)


def step_parameters(
    task_id: uuid.UUID,
    step_key: str,
    message: NewMessage,
    event: NewEvent | None,
    counters: StepCounters | None,
    now: datetime,
    month: date,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "task_id": task_id,
        "step_key": step_key,
        "role": message.role,
        "content": message.content,
        "tool_calls": message.tool_calls,
        "tool_call_id": message.tool_call_id,
        "name": message.name,
        "summary_of": message.summary_of,
    }
    if event is not None:
        values.update(event_type=event.type, event_data=event.data)
    if counters is not None:
        values.update(
            llm_calls=counters.llm_calls,
            tool_calls_made=counters.tool_calls,
            prompt_tokens=counters.prompt_tokens,
            completion_tokens=counters.completion_tokens,
            cost_usd=Decimal(str(counters.cost_usd)),
            now=now,
            month=month,
            cost=Decimal(str(counters.cost_usd or 0)),
        )
        if counters.iterations is not None:
            values["iterations"] = counters.iterations
    return values
