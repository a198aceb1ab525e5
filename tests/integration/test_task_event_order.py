"""A task's events become visible in id order, however many transactions record them at once,
so a stream resumed after an id (Last-Event-ID) never skips one that committed later."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.events import EventRepository, NewEvent
from tests.integration.helpers import new_task_row

Sessions = async_sessionmaker[AsyncSession]


async def visible_ids(sessions: Sessions, task_id: object) -> list[int]:
    async with sessions() as session:
        return [event.id for event in await EventRepository(session).list(task_id)]  # type: ignore[arg-type]


async def test_a_later_event_of_the_task_waits_for_an_earlier_one_to_commit(
    db_sessions: Sessions,
) -> None:
    task_id = await new_task_row(db_sessions, "event-order")
    other_task = await new_task_row(db_sessions, "event-order")

    async def record(task: object, step: str) -> int | None:
        async with db_sessions.begin() as session:
            return await EventRepository(session).add(task, step, NewEvent("note"))  # type: ignore[arg-type]

    async with db_sessions.begin() as first:  # a step still recording when the second comes
        first_id = await EventRepository(first).add(task_id, "first", NewEvent("note"))
        second = asyncio.create_task(record(task_id, "second"))
        elsewhere = await record(other_task, "unrelated")  # another task's events never wait
        await asyncio.sleep(0.5)
        assert await visible_ids(db_sessions, task_id) == []  # not the second before the first
        assert not second.done()
    second_id = await second
    assert first_id is not None and second_id is not None and elsewhere is not None
    assert first_id < second_id
    assert await visible_ids(db_sessions, task_id) == [first_id, second_id]
