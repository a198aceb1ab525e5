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

A stream follows its task (activities/db/followers.py): while it is open, the task's model turns
are streamed and their text published; a task nobody follows has its calls made in one piece,
with no deltas, except its first turn (a client opens the stream right after submitting, maybe
after that turn began). A stream opened while a turn is under way may therefore miss that
turn's deltas, as a reconnect may; it gets the turn's reply, its `llm_call` event, as ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.events import EventRepository
from activities.db.followers import REFRESH_SECONDS, TaskFollowerRepository
from activities.db.models import TaskEvent
from activities.db.tasks import TaskRepository
from services.gateway.schemas.task_events import EventOut
from services.gateway.task_feed import POLL_SECONDS_WITHOUT_FEED, TaskFeed
from workflows.contracts.tasks import TaskStatus

logger = logging.getLogger(__name__)

BATCH = 500
KEEP_ALIVE_SECONDS = 15.0
UNFOLLOW_SECONDS = 2.0


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
    follower = await _follow(sessions, task_id)
    refresh_at = time.monotonic() + REFRESH_SECONDS
    try:
        with feed.watching(task_id, deltas=True) as watch:
            news = True
            while True:
                if time.monotonic() >= refresh_at:
                    follower = await _still(sessions, task_id, follower)
                    refresh_at = time.monotonic() + REFRESH_SECONDS
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
                listening = feed.listening.is_set()
                wait = KEEP_ALIVE_SECONDS if listening else POLL_SECONDS_WITHOUT_FEED
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
    finally:
        if follower is not None:
            await _unfollow(sessions, follower)


async def _follow(
    sessions: async_sessionmaker[AsyncSession], task_id: uuid.UUID
) -> uuid.UUID | None:
    """The stream's follower row; None when Postgres cannot take it (the stream goes on: the
    task's turns then send no deltas, as with nobody following)."""
    try:
        async with sessions.begin() as session:
            return await TaskFollowerRepository(session).follow(task_id)
    except Exception as exc:
        logger.warning("task stream: cannot note the follower (%s)", type(exc).__name__)
        return None


async def _still(
    sessions: async_sessionmaker[AsyncSession], task_id: uuid.UUID, follower: uuid.UUID | None
) -> uuid.UUID | None:
    """Hold the row on (written again if it expired and was cleared meanwhile), or take one
    when the stream has none yet (Postgres could not take it before)."""
    if follower is None:
        return await _follow(sessions, task_id)
    try:
        async with sessions.begin() as session:
            await TaskFollowerRepository(session).still(follower, task_id)
    except Exception as exc:  # the row expires meanwhile; the next refresh tries again
        logger.warning("task stream: cannot hold the follower (%s)", type(exc).__name__)
    return follower


async def _unfollow(sessions: async_sessionmaker[AsyncSession], follower: uuid.UUID) -> None:
    """Shielded: the stream ends by its client going away, i.e. cancelled; a row that cannot be
    deleted expires by itself."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(UNFOLLOW_SECONDS):
        try:
            async with sessions.begin() as session:
                await TaskFollowerRepository(session).unfollow(follower)
        except Exception as exc:
            logger.warning("task stream: cannot drop the follower (%s)", type(exc).__name__)


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
