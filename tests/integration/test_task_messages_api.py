"""POST /v1/tasks/{id}/messages: a follow-up is stored with its event and signalled to the
workflow, or, when it cannot be delivered, not stored at all."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from temporalio.client import Client

from activities.db.models import Message, TaskEvent
from activities.db.tasks import NewTask, TaskRepository
from activities.db.tenants import TenantRepository
from services.gateway import deps
from services.settings import Settings
from tests.conftest import MakeApi
from tests.integration.approval_helpers import (
    Sessions,
    new_tenant,
    set_task_status,
    signals_received,
    submitted_task,
)
from tests.integration.test_approval_decisions_api import TemporalDown
from tests.integration.test_gateway_api import overridden
from tests.integration.test_tasks_api import assert_problem
from workflows.contracts.messages import UserMessageAdded
from workflows.contracts.tasks import workflow_id_for_task


async def send(api: httpx.AsyncClient, task_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"/v1/tasks/{task_id}/messages", json=body)


async def stored(sessions: Sessions, task_id: str) -> tuple[list[Message], list[TaskEvent]]:
    """The task's user messages and message events."""
    async with sessions() as session:
        messages = await session.scalars(
            select(Message)
            .where(Message.task_id == uuid.UUID(task_id), Message.role == "user")
            .order_by(Message.id)
        )
        events = await session.scalars(
            select(TaskEvent)
            .where(TaskEvent.task_id == uuid.UUID(task_id), TaskEvent.type == "message")
            .order_by(TaskEvent.id)
        )
        return list(messages), list(events)


async def messages_sent(client: Client, task_id: str) -> list[UserMessageAdded]:
    return await signals_received(
        client, workflow_id_for_task(task_id), "user_message_added", UserMessageAdded
    )


async def test_a_follow_up_is_stored_with_its_event_and_signalled(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client
) -> None:
    task_id = await submitted_task(api)

    response = await send(api, task_id, content="Use metric units, please.")

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["task_id"] == task_id
    [message], [event] = await stored(db_sessions, task_id)
    assert body["message_id"] == message.id
    assert message.content == "Use metric units, please."
    assert message.step_key.startswith("user:")
    uuid.UUID(message.step_key.removeprefix("user:"))
    assert event.data == {"message_id": message.id}
    assert await messages_sent(temporal_client, task_id) == [
        UserMessageAdded(message_id=message.id)
    ]
    transcript = (await api.get(f"/v1/tasks/{task_id}/messages")).json()["items"]
    assert transcript[-1]["content"] == "Use metric units, please."


async def test_waiting_tasks_take_messages_and_final_ones_refuse_them(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client
) -> None:
    for waiting in ["running", "waiting_approval", "waiting_input"]:
        task_id = await submitted_task(api)
        await set_task_status(db_sessions, task_id, waiting)
        assert (await send(api, task_id, content="more")).status_code == 202, waiting

    for final in ["succeeded", "failed", "cancelled"]:
        task_id = await submitted_task(api)
        await set_task_status(db_sessions, task_id, final)

        response = await send(api, task_id, content="more")

        body = assert_problem(response, 409, f"it is {final}")
        assert body["task_status"] == final
        assert await stored(db_sessions, task_id) == ([], [])
        assert await messages_sent(temporal_client, task_id) == []


async def test_message_content_is_checked(
    api: httpx.AsyncClient, db_sessions: Sessions, gateway_settings: Settings
) -> None:
    task_id = await submitted_task(api)
    limit = gateway_settings.max_input_bytes

    too_big = await send(api, task_id, content="é" * (limit // 2 + 1))
    body = assert_problem(too_big, 413, f"the limit is {limit} bytes")
    assert body["limit"] == limit
    assert_problem(await send(api, task_id, content=""), 422, "content")
    assert_problem(await send(api, task_id, content="  \n"), 422, "more than whitespace")
    assert_problem(await send(api, task_id), 422, "content")
    assert_problem(await send(api, task_id, content="hi", role="system"), 422, "role")
    assert_problem(await send(api, str(uuid.uuid4()), content="hi"), 404, "not found")

    assert await stored(db_sessions, task_id) == ([], [])


async def test_another_tenants_task_is_404(make_api: MakeApi, db_sessions: Sessions) -> None:
    owner, stranger = await make_api(), await make_api()
    task_id = await submitted_task(owner)

    assert_problem(await send(stranger, task_id, content="hi"), 404, "not found")
    assert await stored(db_sessions, task_id) == ([], [])


async def test_a_message_for_a_workflow_that_is_gone_is_409_and_not_stored(
    make_api: MakeApi, db_sessions: Sessions, temporal_client: Client
) -> None:
    tenant = new_tenant()
    api = await make_api(tenant=tenant)
    # a task whose workflow never started (a submit that crashed half-way)
    orphan = uuid.uuid4()
    async with db_sessions() as session, session.begin():
        owner = await TenantRepository(session).get_or_create(tenant)
        new = NewTask(
            id=orphan,
            tenant_id=owner.id,
            agent="assistant",
            input="hi",
            metadata={},
            workflow_id=workflow_id_for_task(str(orphan)),
        )
        await TaskRepository(session).create(new)
    # and one whose workflow has ended while its row still says running
    ended = await submitted_task(api)
    await set_task_status(db_sessions, ended, "running")
    await temporal_client.get_workflow_handle(workflow_id_for_task(ended)).terminate("test")

    for task_id in [str(orphan), ended]:
        response = await send(api, task_id, content="anyone there?")

        assert_problem(response, 409, "its workflow has ended")
        assert await stored(db_sessions, task_id) == ([], [])


async def test_a_message_temporal_cannot_take_is_503_and_not_stored(
    api: httpx.AsyncClient, db_sessions: Sessions, gateway_app: FastAPI
) -> None:
    task_id = await submitted_task(api)

    with overridden(gateway_app, deps.get_temporal_client, TemporalDown()):
        response = await send(api, task_id, content="hello?")

    assert_problem(response, 503, "nothing was stored")
    assert response.headers["retry-after"] == "5"
    assert "10.0.0.7" not in response.text
    assert await stored(db_sessions, task_id) == ([], [])
    async with db_sessions() as session:
        total = await session.scalar(
            select(func.count()).select_from(Message).where(Message.task_id == uuid.UUID(task_id))
        )
    assert total == 0
