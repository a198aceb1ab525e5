"""Task priority: a submit takes 1 (highest) … 5, else gets its agent's pool's; the task's
workflow carries it as Temporal task priority, so a pool's waiting tasks start highest first."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from services.gateway.submission import request_hash
from services.settings import Settings
from tests.integration.scheduling_helpers import (
    POOL_PRIORITY,
    HeldModel,
    Sessions,
    scheduling_gateway,
    submitted,
    task_rows,
    until,
)
from tests.integration.test_tasks_api import assert_problem, count_tasks, submit
from workflows.contracts.tasks import AgentTaskInput, workflow_id_for_task


async def test_the_priority_is_stored_returned_and_given_to_the_workflow(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    response = await submit(api, priority=1)

    assert response.status_code == 201, response.text
    task = response.json()
    assert task["priority"] == 1
    assert (await api.get(f"/v1/tasks/{task['id']}")).json()["priority"] == 1
    handle = temporal_client.get_workflow_handle(workflow_id_for_task(task["id"]))
    described = await handle.describe()
    assert described.raw_info.priority.priority_key == 1
    started = (await handle.fetch_history()).events[0]
    [payload] = started.workflow_execution_started_event_attributes.input.payloads
    workflow_input = AgentTaskInput.model_validate_json(payload.data)
    assert workflow_input.priority == 1
    assert workflow_input.admission is not None  # it begins within its tenant's cap


async def test_without_a_priority_a_task_gets_its_pools(
    tmp_path: Path, gateway_settings: Settings, db_sessions: Sessions, temporal_client: Client
) -> None:
    async with scheduling_gateway(tmp_path, gateway_settings, db_sessions, temporal_client) as gw:
        async with await gw.api() as api:
            task_id = await submitted(api)
            task = (await api.get(f"/v1/tasks/{task_id}")).json()
    assert task["priority"] == POOL_PRIORITY


@pytest.mark.parametrize("bad", [0, 6, -1, "high", "2", 2.5, True])
async def test_a_priority_outside_1_to_5_or_not_an_integer_is_refused(
    api: httpx.AsyncClient, db_sessions: Sessions, bad: object
) -> None:
    marker = f"priority {uuid.uuid4()}"
    response = await submit(api, input=marker, priority=bad)

    body = assert_problem(response, 422, "body.priority")
    assert [error["field"] for error in body["errors"]] == ["body.priority"]
    assert await count_tasks(db_sessions, input=marker) == 0


async def test_the_idempotency_key_covers_the_priority(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    first = await submit(api, input="hi", priority=2, key="prio-key")
    assert first.status_code == 201, first.text

    again = await submit(api, input="hi", priority=2, key="prio-key")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    for other in ({"priority": 1}, {}):
        conflict = await submit(api, input="hi", key="prio-key", **other)
        assert_problem(conflict, 409, "Idempotency-Key")

    # a request without a priority hashes as before priorities existed
    plain = await submit(api, input="hi", key="plain-key")
    assert plain.status_code == 201, plain.text
    [row] = await task_rows(db_sessions, [plain.json()["id"]])
    assert row.request_hash == request_hash("assistant", "hi", {})


async def test_higher_priority_tasks_of_a_pool_start_first(
    tmp_path: Path, gateway_settings: Settings, db_sessions: Sessions, temporal_client: Client
) -> None:
    async with scheduling_gateway(tmp_path, gateway_settings, db_sessions, temporal_client) as gw:
        async with await gw.api() as api:
            # a backlog while the pool has no worker: low first, then high, then the default
            low = [await submitted(api, priority=5) for _ in range(3)]
            high = [await submitted(api, priority=1) for _ in range(3)]
            default = await submitted(api)  # the pool's priority, between the two
            everything = [*low, *high, default]

            # a worker without a workflow cache runs one workflow task at a time, so the
            # backlog is handed out in Temporal's order, one task after the other
            model = HeldModel(hold=False)
            async with gw.worker(model, max_cached_workflows=0):

                async def all_succeeded() -> bool:
                    rows = await task_rows(db_sessions, everything)
                    return all(row.status == "succeeded" for row in rows)

                await until(all_succeeded, "every task succeeded")

    order = await start_order(temporal_client, everything)
    assert set(order[:3]) == set(high), order
    assert order[3] == default, order
    assert set(order[4:]) == set(low), order


async def start_order(client: Client, task_ids: list[str]) -> list[str]:
    """The tasks in the order a worker first picked up their workflows (Temporal's record)."""
    started = {}
    for task_id in task_ids:
        history = await client.get_workflow_handle(workflow_id_for_task(task_id)).fetch_history()
        first = next(
            event
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
        )
        started[task_id] = first.event_time.ToDatetime()
    return sorted(task_ids, key=started.__getitem__)
