"""A task's events as Server-Sent Events (GET /v1/tasks/{id}/stream), live.

The stream is the task's event log: each SSE event carries the row's id, so a client that
reconnects with `Last-Event-ID` gets exactly what came after, with no gap and no repeat, from
whichever gateway replica it reaches. Between rows the stream sleeps on the task feed
(task_feed.py, LISTEN/NOTIFY), holding no database connection. It ends with an `end` event
once the task is final and every event has been sent.

Between stored events come `delta` events: the text of the model turn under way as the model
writes it (`data`: `{"task_id", "iteration", "attempt", "seq", "text"}`), delivered through
Postgres notifications and never stored (activities/turn_deltas.py). They carry no `id`, so
`Last-Event-ID` stays exact over stored events; a reconnect may miss some, never the turn's
recorded reply (its `llm_call` event). A turn's deltas all come before its `llm_call`; one that
arrives after it is dropped. A retried attempt of a turn starts again at `seq` 0 with a higher
`attempt`: its text replaces the earlier attempt's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.events import EventRepository
from activities.db.models import TaskEvent
from activities.db.tasks import TaskRepository
from services.gateway.schemas.tasks import EventOut
from services.gateway.task_feed import POLL_SECONDS_WITHOUT_FEED, TaskFeed
from workflows.contracts.tasks import TaskStatus

BATCH = 500
KEEP_ALIVE_SECONDS = 15.0


def sse(event_id: int | None, kind: str, data: str) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n"


async def task_events(
    sessions: async_sessionmaker[AsyncSession],
    feed: TaskFeed,
    task_id: uuid.UUID,
    after: int | None,
) -> AsyncIterator[str]:
    replied = -1  # the last turn whose reply (llm_call) has been sent: its deltas are stale
    with feed.watching(task_id, deltas=True) as watch:
        news = True
        while True:
            if news:
                rows, final = await _next_rows(sessions, task_id, after)
                for row in rows:
                    after = row.id
                    if row.type == "llm_call":
                        replied = max(replied, _iteration(row.data))
                    yield sse(row.id, row.type, EventOut.from_row(row).model_dump_json())
                if len(rows) == BATCH:
                    continue
                if final:
                    yield sse(None, "end", json.dumps({"last_event_id": after}))
                    return
            wait = KEEP_ALIVE_SECONDS if feed.listening.is_set() else POLL_SECONDS_WITHOUT_FEED
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.wake.wait(), wait)
            if not watch.wake.is_set():
                yield ": keep-alive\n\n"  # proxies close streams that stay silent
                news = True  # and look again: the feed may have missed something
                continue
            news, deltas = watch.take()
            for payload in deltas:
                if _iteration(json.loads(payload)) > replied:
                    yield sse(None, "delta", payload)


def _iteration(data: object) -> int:
    value = data.get("iteration") if isinstance(data, dict) else None
    return value if isinstance(value, int) else -1


async def _next_rows(
    sessions: async_sessionmaker[AsyncSession], task_id: uuid.UUID, after: int | None
) -> tuple[list[TaskEvent], bool]:
    """The events after `after`, and whether the task was final before they were read (so a
    final task's last events are in this read or an earlier one)."""
    async with sessions() as session:
        status = await TaskRepository(session).status_of(task_id)
        rows = await EventRepository(session).list(task_id, after=after, limit=BATCH)
    return rows, status is not None and TaskStatus(status).is_final
