"""A response as it happens: its state read from the task's stored events (response_items.py),
a wait until it settles, and its Responses streaming events.

The streaming events are a pure function of the event log: `response.created` and
`response.in_progress` first, then for each output item, in order, its `added` … `done`
events (a message's text as one `output_text.delta`), then the final event once the turn is
over. The log only grows, so the numbering is the same on every connection: a client resumes
with `starting_after` and gets no gap and no repeat, from any gateway replica. The model's
live token deltas are not in it (they are not stored); a turn's text arrives when its model
call is recorded. While an approval waits for a person, the stream waits with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.approvals import ApprovalRepository
from activities.db.events import EventRepository
from activities.db.models import Approval, Task, TaskEvent
from services.gateway.response_items import Turn, read_turns
from services.gateway.response_objects import (
    FINAL_STATUSES,
    ResponseRef,
    response_object,
    turn_index,
    turn_status,
)
from services.gateway.task_feed import POLL_SECONDS_WITHOUT_FEED, TaskFeed

PAGE = 1000
KEEP_ALIVE_SECONDS = 15.0
FINAL_EVENTS = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
    "cancelled": "response.failed",  # the Responses stream has no event of its own for it
}


@dataclass(frozen=True)
class ResponseState:
    task: Task
    turns: list[Turn]
    index: int

    @property
    def turn(self) -> Turn:
        return self.turns[self.index]

    @property
    def status(self) -> str:
        return turn_status(self.task, self.turns, self.index)

    @property
    def settled(self) -> bool:
        """Over, or waiting for a person to answer its approval requests."""
        return self.status in FINAL_STATUSES or bool(self.turn.waiting_for)

    def as_object(self) -> dict[str, Any]:
        return response_object(self.task, self.turns, self.index)


@dataclass
class EventLog:
    """What a waiting or streaming request has read of the task so far: each new read takes
    only the events after the last one, and the approvals again only when one changed."""

    events: list[TaskEvent] = field(default_factory=list)
    approvals: list[Approval] | None = None


async def read_state(
    sessions: async_sessionmaker[AsyncSession],
    ref: ResponseRef,
    tenant_id: uuid.UUID,
    log: EventLog | None = None,
) -> ResponseState | None:
    """None when the tenant has no such task, or the task no such turn."""
    log = log if log is not None else EventLog()
    async with sessions() as session:
        task = await session.get(Task, ref.task_id, populate_existing=True)
        if task is None or task.tenant_id != tenant_id or task.shadow_of is not None:
            return None
        after = log.events[-1].id if log.events else None
        new: list[TaskEvent] = []
        while page := await EventRepository(session).list(task.id, after=after, limit=PAGE):
            new.extend(page)
            after = page[-1].id
        log.events.extend(new)
        if log.approvals is None or any(event.type == "approval" for event in new):
            log.approvals = await ApprovalRepository(session).list_for_task(task.id)
    turns = read_turns(log.events, log.approvals)
    index = turn_index(turns, ref)
    return None if index is None else ResponseState(task, turns, index)


async def wait_settled(
    sessions: async_sessionmaker[AsyncSession],
    feed: TaskFeed,
    ref: ResponseRef,
    tenant_id: uuid.UUID,
    seconds: float,
) -> ResponseState | None:
    """The response once settled, or as it is after `seconds`."""
    deadline = time.monotonic() + seconds
    log = EventLog()
    with feed.watching(ref.task_id) as watch:
        while True:
            state = await read_state(sessions, ref, tenant_id, log)
            left = deadline - time.monotonic()
            if state is None or state.settled or left <= 0:
                return state
            if not feed.listening.is_set():
                left = min(left, POLL_SECONDS_WITHOUT_FEED)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.wake.wait(), left)
            watch.take()


async def response_events(
    sessions: async_sessionmaker[AsyncSession],
    feed: TaskFeed,
    ref: ResponseRef,
    tenant_id: uuid.UUID,
    starting_after: int | None,
) -> AsyncIterator[str]:
    """The response's streaming events as SSE, those numbered above `starting_after`."""
    numbered = _Numbered(starting_after)
    items_sent = 0
    log = EventLog()
    with feed.watching(ref.task_id) as watch:
        state = await read_state(sessions, ref, tenant_id, log)
        if state is None:
            return
        shown = state.as_object()
        for kind in ("response.created", "response.in_progress"):
            if out := numbered.event(kind, {"response": shown}):
                yield out
        while True:
            for index in range(items_sent, len(state.turn.items)):
                for kind, body in _item_events(index, state.turn.items[index]):
                    if out := numbered.event(kind, body):
                        yield out
            items_sent = len(state.turn.items)
            status = state.status
            if status in FINAL_STATUSES:
                if out := numbered.event(FINAL_EVENTS[status], {"response": state.as_object()}):
                    yield out
                return
            wait = KEEP_ALIVE_SECONDS if feed.listening.is_set() else POLL_SECONDS_WITHOUT_FEED
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.wake.wait(), wait)
            if not watch.wake.is_set():
                yield ": keep-alive\n\n"
            watch.take()
            latest = await read_state(sessions, ref, tenant_id, log)
            if latest is None:
                return
            state = latest


class _Numbered:
    """Numbers the events in order; renders those after `starting_after`."""

    def __init__(self, starting_after: int | None) -> None:
        self.next = 0
        self.starting_after = -1 if starting_after is None else starting_after

    def event(self, kind: str, body: dict[str, Any]) -> str | None:
        number = self.next
        self.next += 1
        if number <= self.starting_after:
            return None
        data = json.dumps({"type": kind, "sequence_number": number, **body}, ensure_ascii=False)
        return f"event: {kind}\ndata: {data}\n\n"


def _item_events(index: int, item: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    where: dict[str, Any] = {"output_index": index}
    if item["type"] != "message":
        return [
            ("response.output_item.added", {**where, "item": item}),
            ("response.output_item.done", {**where, "item": item}),
        ]
    text = item["content"][0]["text"]
    part = {"item_id": item["id"], **where, "content_index": 0}
    empty = {"type": "output_text", "text": "", "annotations": []}
    return [
        (
            "response.output_item.added",
            {**where, "item": {**item, "status": "in_progress", "content": []}},
        ),
        ("response.content_part.added", {**part, "part": empty}),
        ("response.output_text.delta", {**part, "delta": text, "logprobs": []}),
        ("response.output_text.done", {**part, "text": text, "logprobs": []}),
        ("response.content_part.done", {**part, "part": item["content"][0]}),
        ("response.output_item.done", {**where, "item": item}),
    ]
