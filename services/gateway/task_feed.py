"""Wakes requests waiting on a task when something happens to it, on any gateway replica.

Postgres announces every new task event on the channel `agentry_task_events` (a trigger,
migrations 0007 and 0011); one connection per gateway LISTENs and wakes the waiters of that
task. Notifications carry only the task id and the event's type: a woken waiter reads what
changed from the tables, so a notification lost to a broken connection costs at most a late
wake-up (on reconnect every waiter is woken to look again). A waiter for the task's end watches
its `status` events only, so a task's model and tool calls do not make it read the task again.

The same connection LISTENs to `agentry_task_deltas`: model token deltas, which the workers
announce as the model writes (activities/turn_deltas.py) and nobody stores. A live stream that
follows a task's deltas gets each one's payload as it arrives; a lost one is lost (the reply
itself is recorded, and its event follows).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.decisions import asyncpg_dsn
from activities.db.delta_notices import CHANNEL as DELTA_CHANNEL
from activities.db.models import Task
from workflows.contracts.tasks import TaskStatus

logger = logging.getLogger(__name__)

CHANNEL = "agentry_task_events"
RECONNECT_SECONDS = 1.0
POLL_SECONDS_WITHOUT_FEED = 1.0
DELTAS_KEPT = 1000  # per stream, while its client reads slower than the model writes


class TaskWatch:
    """What happened to one task since the watcher last looked: `wake` is set on news."""

    def __init__(self, deltas: bool, statuses_only: bool = False) -> None:
        self.statuses_only = statuses_only  # woken by status changes, not by every step
        self.wake = asyncio.Event()
        self.news = False  # a stored event (or a reconnect: look again)
        self.deltas: deque[str] | None = deque(maxlen=DELTAS_KEPT) if deltas else None

    def stored(self) -> None:
        self.news = True
        self.wake.set()

    def delta(self, payload: str) -> None:
        if self.deltas is not None:
            self.deltas.append(payload)
            self.wake.set()

    def take(self) -> tuple[bool, list[str]]:
        """Whether stored events came, and the deltas that came, since the last take."""
        news, self.news = self.news, False
        deltas = list(self.deltas or ())
        if self.deltas is not None:
            self.deltas.clear()
        self.wake.clear()
        return news, deltas


class TaskFeed:
    def __init__(self, database_url: str) -> None:
        self._dsn, self._ssl = asyncpg_dsn(database_url)
        self._waiters: dict[str, set[TaskWatch]] = defaultdict(set)
        self._loop: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._listen_forever(), name="task-feed")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    @contextlib.contextmanager
    def watching(
        self, task_id: uuid.UUID, deltas: bool = False, statuses_only: bool = False
    ) -> Iterator[TaskWatch]:
        """The task's news (with `statuses_only`, its status changes only), and with `deltas`
        its model token deltas; subscribe before reading its state, so nothing that happens
        after the read is missed."""
        watch = TaskWatch(deltas, statuses_only)
        key = str(task_id)
        self._waiters[key].add(watch)
        try:
            yield watch
        finally:
            self._waiters[key].discard(watch)
            if not self._waiters[key]:
                del self._waiters[key]

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        task_id, _, kind = payload.partition(" ")  # no type (before migration 0011): any news
        for watch in self._waiters.get(task_id, ()):
            if not watch.statuses_only or kind in ("", "status"):
                watch.stored()

    def _delta(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        if not self._waiters or "\n" in payload:  # nobody watches; SSE data is one line
            return
        try:
            task_id = json.loads(payload)["task_id"]
        except (ValueError, TypeError, KeyError):
            return
        for watch in self._waiters.get(str(task_id), ()):
            watch.delta(payload)

    def _wake_everyone(self) -> None:
        for watches in self._waiters.values():
            for watch in watches:
                watch.stored()

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen_until_the_connection_ends()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Postgres away: try again shortly
                logger.warning("task feed: cannot listen (%s)", type(exc).__name__)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_until_the_connection_ends(self) -> None:
        connection = await asyncpg.connect(self._dsn, ssl=self._ssl)
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _connection: closed.set())
        try:
            await connection.add_listener(CHANNEL, self._notified)
            await connection.add_listener(DELTA_CHANNEL, self._delta)
            self.listening.set()
            self._wake_everyone()  # whatever happened while not listening
            await closed.wait()
        finally:
            self.listening.clear()
            if not connection.is_closed():
                with contextlib.suppress(Exception):
                    await connection.close()


async def wait_until_final(
    session: AsyncSession, feed: TaskFeed, task: Task, seconds: float
) -> Task:
    """The task once it is final, or as it is after `seconds`. Holds no database connection
    while it waits; while the feed is not listening (Postgres restarting) it looks every
    second instead."""
    deadline = time.monotonic() + seconds
    with feed.watching(task.id, statuses_only=True) as watch:
        while True:
            await session.refresh(task)
            # end the read before waiting: the connection goes back to the pool (a commit
            # keeps `task` loaded: the sessions do not expire on commit)
            await session.commit()
            left = deadline - time.monotonic()
            if TaskStatus(task.status).is_final or left <= 0:
                return task
            if not feed.listening.is_set():
                left = min(left, POLL_SECONDS_WITHOUT_FEED)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.wake.wait(), left)
            watch.take()
