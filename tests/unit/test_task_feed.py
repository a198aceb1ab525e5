"""Who a task-event notification wakes: a live stream wakes on every event of its task, a
request waiting for the task's end only on its status changes."""

from __future__ import annotations

import uuid

from services.gateway.task_feed import TaskFeed


def notify(feed: TaskFeed, payload: str) -> None:
    feed._notified(None, 0, "agentry_task_events", payload)


async def test_a_wait_for_the_end_wakes_on_status_changes_only() -> None:
    feed = TaskFeed("postgresql+asyncpg://agentry@127.0.0.1:5432/agentry")
    task, other = uuid.uuid4(), uuid.uuid4()
    with feed.watching(task, statuses_only=True) as waiter, feed.watching(task) as stream:
        notify(feed, f"{task} llm_call")
        notify(feed, f"{task} tool_call")
        assert not waiter.wake.is_set() and stream.wake.is_set()
        notify(feed, f"{other} status")
        assert not waiter.wake.is_set()
        notify(feed, f"{task} status")
        assert waiter.wake.is_set()
        waiter.take()
        notify(feed, str(task))  # a database not yet migrated to 0011 names no type
        assert waiter.wake.is_set()
