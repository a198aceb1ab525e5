"""POST /v1/tasks/{id}/cancel. No worker runs here, so the workflow never writes `cancelled`
itself: these tests check the request the gateway makes and how it waits."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.db.models import Task, TaskEvent
from activities.db.tasks import NewTask, TaskRepository
from activities.db.tenants import TenantRepository
from tests.conftest import MakeApi
from tests.integration.test_tasks_api import assert_problem, submit
from workflows.contracts.tasks import workflow_id_for_task

Sessions = async_sessionmaker[AsyncSession]


async def cancel_requested(client: Client, task_id: str) -> bool:
    history = await client.get_workflow_handle(workflow_id_for_task(task_id)).fetch_history()
    return any(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
        for event in history.events
    )


async def set_status(sessions: Sessions, task_id: str, status: str) -> None:
    async with sessions() as session:
        await session.execute(
            update(Task).where(Task.id == uuid.UUID(task_id)).values(status=status)
        )
        await session.commit()


async def test_cancel_requests_workflow_cancellation_and_answers_202_while_it_finishes(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    task_id = (await submit(api)).json()["id"]

    response = await api.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "changed my mind"})

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    assert response.json()["cancel_reason"] == "changed my mind"
    assert await cancel_requested(temporal_client, task_id)
    assert (await api.get(f"/v1/tasks/{task_id}")).json()["cancel_reason"] == "changed my mind"


async def test_cancel_answers_200_once_the_task_is_final(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    task_id = (await submit(api)).json()["id"]

    async def play_the_workflow() -> None:
        """Write `cancelled` the way the workflow would, once the cancel is recorded."""
        while True:
            async with db_sessions() as session:
                task = await session.get(Task, uuid.UUID(task_id))
                if task is not None and task.cancel_reason is not None:
                    break
            await asyncio.sleep(0.02)
        await set_status(db_sessions, task_id, "cancelled")

    workflow = asyncio.create_task(play_the_workflow())
    response = await api.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "stop"})
    await workflow

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"


async def test_cancel_needs_no_body(api: httpx.AsyncClient, temporal_client: Client) -> None:
    task_id = (await submit(api)).json()["id"]
    response = await api.post(f"/v1/tasks/{task_id}/cancel")
    assert response.status_code == 202, response.text
    assert response.json()["cancel_reason"] is None
    assert await cancel_requested(temporal_client, task_id)


async def test_a_second_cancel_without_reason_keeps_the_first_reason(
    api: httpx.AsyncClient,
) -> None:
    task_id = (await submit(api)).json()["id"]
    await api.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "first"})
    again = await api.post(f"/v1/tasks/{task_id}/cancel", json={})
    assert again.status_code == 202
    assert again.json()["cancel_reason"] == "first"


async def test_cancelling_a_final_task_is_a_conflict_and_changes_nothing(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client
) -> None:
    task_id = (await submit(api)).json()["id"]
    await set_status(db_sessions, task_id, "succeeded")

    response = await api.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "too late"})

    assert_problem(response, 409, "already succeeded")
    assert (await api.get(f"/v1/tasks/{task_id}")).json()["cancel_reason"] is None
    assert not await cancel_requested(temporal_client, task_id)


async def test_a_bad_cancel_body_is_refused(api: httpx.AsyncClient) -> None:
    task_id = (await submit(api)).json()["id"]
    response = await api.post(f"/v1/tasks/{task_id}/cancel", json={"reason": 5})
    assert_problem(response, 422, "body.reason")


async def test_another_tenant_cannot_cancel(make_api: MakeApi, temporal_client: Client) -> None:
    owner, stranger = await make_api(), await make_api()
    task_id = (await submit(owner)).json()["id"]

    response = await stranger.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "mine now"})

    assert_problem(response, 404, "not found")
    assert (await owner.get(f"/v1/tasks/{task_id}")).json()["cancel_reason"] is None
    assert not await cancel_requested(temporal_client, task_id)


async def test_cancelling_a_task_whose_workflow_never_started_finishes_it(
    make_api: MakeApi, db_sessions: Sessions
) -> None:
    tenant = f"orphan-{uuid.uuid4().hex[:8]}"
    api = await make_api(tenant=tenant)
    task_id = uuid.uuid4()
    async with db_sessions() as session:
        owner = await TenantRepository(session).get_or_create(tenant)
        await TaskRepository(session).create(
            NewTask(
                id=task_id,
                tenant_id=owner.id,
                agent="assistant",
                input="hi",
                metadata={},
                workflow_id=workflow_id_for_task(str(task_id)),
            )
        )
        await session.commit()

    response = await api.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "orphan"})

    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "orphan")
    assert body["finished_at"] is not None
    async with db_sessions() as session:
        events = list(await session.scalars(select(TaskEvent).filter_by(task_id=task_id)))
    assert [e.data for e in events] == [{"status": "cancelled", "reason": "orphan"}]
