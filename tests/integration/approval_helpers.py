"""Helpers for the approval and follow-up tests: seed approval rows the way the workflow's
activity would, make keys with chosen names and roles, and read signals from histories."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.db.models import Approval, Task
from services.key_service import create_api_key
from services.roles import Role
from tests.conftest import MakeApi
from tests.integration.test_tasks_api import submit

Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T", bound=BaseModel)

CONTEXT = {
    "reasoning": "I will compute it with the calculator.",
    "recent_messages": [
        {"role": "user", "content": "What is 17 * 23?"},
        {"role": "assistant", "content": "I will compute it with the calculator."},
    ],
}


def new_tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:12]}"


async def api_as(
    make_api: MakeApi, sessions: Sessions, tenant: str, role: Role | str, name: str
) -> httpx.AsyncClient:
    """A client whose key has this tenant, role and name (make_api names every key `dev`)."""
    return await make_api(key=await create_api_key(sessions, tenant, role=role, name=name))


async def submitted_task(api: httpx.AsyncClient) -> str:
    response = await submit(api)
    assert response.status_code == 201, response.text
    task_id: str = response.json()["id"]
    return task_id


async def seed_approval(sessions: Sessions, task_id: str, **values: Any) -> str:
    """An approval row for the task, pending unless `values` say otherwise."""
    async with sessions() as session, session.begin():
        task = await session.get(Task, uuid.UUID(task_id))
        assert task is not None
        row = {
            "id": uuid.uuid4(),
            "task_id": task.id,
            "tenant_id": task.tenant_id,
            "agent": task.agent,
            "iteration": 0,
            "call_id": f"call-{uuid.uuid4().hex[:8]}",
            "tool": "calculator",
            "arguments": {"expression": "17*23"},
            "reason": "calculator: every call needs approval",
            "context": CONTEXT,
            "status": "pending",
            "on_timeout": "reject",
            "deadline_at": datetime.now(UTC) + timedelta(hours=1),
        }
        row.update(values)
        approval = Approval(**row)
        session.add(approval)
    return str(row["id"])


async def approval_row(sessions: Sessions, approval_id: str) -> Approval:
    async with sessions() as session:
        approval = await session.get(Approval, uuid.UUID(approval_id))
    assert approval is not None
    return approval


async def set_task_status(sessions: Sessions, task_id: str, status: str) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Task).where(Task.id == uuid.UUID(task_id)).values(status=status)
        )


async def signals_received(
    client: Client, workflow_id: str, name: str, payload_type: type[T]
) -> list[T]:
    """The payloads of every signal `name` in the workflow's history, in order."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    received: list[T] = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attributes = event.workflow_execution_signaled_event_attributes
        if attributes.signal_name != name:
            continue
        [value] = await client.data_converter.decode(attributes.input.payloads, [payload_type])
        received.append(value)
    return received
