"""POST /v1/approvals/{id}/decision and the decision outbox, against real Postgres and a real
Temporal dev server. No worker runs: the submitted workflows stay open, accept signals, and
their histories show each WorkflowExecutionSignaled with its payload."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.db.models import ApiKey, TaskEvent
from services.gateway import deps
from services.gateway.app import create_app
from services.gateway.decision_outbox import resend_unsignalled_decisions
from services.settings import Settings
from tests.conftest import MakeApi
from tests.integration.approval_helpers import (
    Sessions,
    api_as,
    approval_row,
    new_tenant,
    seed_approval,
    set_task_status,
    signals_received,
    submitted_task,
)
from tests.integration.test_gateway_api import overridden
from tests.integration.test_tasks_api import assert_problem
from workflows.contracts.approvals import ApprovalDecided
from workflows.contracts.tasks import workflow_id_for_task


class TemporalDown:
    """A Temporal client whose every signal fails as if the server were unreachable."""

    def get_workflow_handle(self, workflow_id: str) -> TemporalDown:
        return self

    async def signal(self, *args: Any, **kwargs: Any) -> None:
        raise RPCError("connection refused at 10.0.0.7:7233", RPCStatusCode.UNAVAILABLE, b"")


async def decisions_sent(client: Client, task_id: str) -> list[ApprovalDecided]:
    return await signals_received(
        client, workflow_id_for_task(task_id), "approval_decided", ApprovalDecided
    )


async def told_row(sessions: Sessions, approval_id: str) -> Any:
    """The approval's row once the gateway has written `signalled_at` (a moment after the
    decision answered; the write is batched off the request)."""
    deadline = time.monotonic() + 10
    while (row := await approval_row(sessions, approval_id)).signalled_at is None:
        assert time.monotonic() < deadline, "signalled_at was never written"
        await asyncio.sleep(0.02)
    return row


async def approval_events(sessions: Sessions, task_id: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TaskEvent)
            .where(TaskEvent.task_id == uuid.UUID(task_id), TaskEvent.type == "approval")
            .order_by(TaskEvent.id)
        )
        return [row.data for row in rows]


def outbox_loops() -> set[asyncio.Task[Any]]:
    return {
        task
        for task in asyncio.all_tasks()
        if task.get_name() == "decision-outbox" and not task.done()
    }


async def decide(api: httpx.AsyncClient, approval_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"/v1/approvals/{approval_id}/decision", json=body)


async def test_approve_records_the_decision_writes_an_event_and_signals_the_workflow(
    make_api: MakeApi, db_sessions: Sessions, temporal_client: Client
) -> None:
    tenant = new_tenant()
    api = await api_as(make_api, db_sessions, tenant, "approver", "alice")
    task_id = await submitted_task(await api_as(make_api, db_sessions, tenant, "admin", "ops"))
    approval_id = await seed_approval(db_sessions, task_id)

    response = await decide(api, approval_id, decision="approve", comment="fine")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "approved"
    assert body["decision"]["decision"] == "approve"
    assert body["decision"]["arguments"] is None
    assert body["decision"]["comment"] == "fine"
    assert body["decision"]["decided_by"] == "alice"
    assert body["tool_schema"] is not None and body["context"]["reasoning"]
    row = await told_row(db_sessions, approval_id)
    async with db_sessions() as session:
        alice = await session.scalar(select(ApiKey).where(ApiKey.name == "alice"))
        assert alice is not None and alice.tenant_id == row.tenant_id
    assert (row.status, row.decision, row.comment) == ("approved", "approve", "fine")
    assert row.decided_by == alice.id and row.decided_by_name == "alice"
    assert row.decided_at is not None and row.signalled_at is not None
    assert row.decided_arguments is None
    assert await approval_events(db_sessions, task_id) == [
        {
            "approval_id": approval_id,
            "tool": "calculator",
            "state": "approved",
            "decision": "approve",
            "by": "alice",
        }
    ]
    assert await decisions_sent(temporal_client, task_id) == [
        ApprovalDecided(approval_id=approval_id, decision="approve", comment="fine")
    ]


async def test_reject_and_edit_are_recorded_and_signalled_with_their_payloads(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client
) -> None:
    task_id = await submitted_task(api)
    rejected = await seed_approval(db_sessions, task_id)
    edited = await seed_approval(db_sessions, task_id, status="escalated")

    response = await decide(api, rejected, decision="reject", comment="no")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"
    response = await decide(
        api, edited, decision="edit", arguments={"expression": "17*24"}, comment="typo"
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "edited"
    assert response.json()["decision"]["arguments"] == {"expression": "17*24"}

    edited_row = await told_row(db_sessions, edited)
    assert edited_row.decided_arguments == {"expression": "17*24"}
    assert edited_row.arguments == {"expression": "17*23"}  # the proposal is kept
    await told_row(db_sessions, rejected)
    assert await decisions_sent(temporal_client, task_id) == [
        ApprovalDecided(approval_id=rejected, decision="reject", comment="no"),
        ApprovalDecided(
            approval_id=edited, decision="edit", arguments={"expression": "17*24"}, comment="typo"
        ),
    ]
    states = [event["state"] for event in await approval_events(db_sessions, task_id)]
    assert states == ["rejected", "edited"]
    audit = (await api.get(f"/v1/tasks/{task_id}/approvals")).json()["items"]
    diff = next(item["argument_diff"] for item in audit if item["id"] == edited)
    assert diff == {
        "changed": {"expression": {"from": "17*23", "to": "17*24"}},
        "added": {},
        "removed": [],
    }


async def test_a_second_decision_is_409_and_changes_nothing(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client
) -> None:
    task_id = await submitted_task(api)
    approval_id = await seed_approval(db_sessions, task_id)
    timed_out = await seed_approval(db_sessions, task_id, status="timed_out", decision="reject")
    assert (await decide(api, approval_id, decision="approve")).status_code == 200

    again = await decide(api, approval_id, decision="reject")
    body = assert_problem(again, 409, "already approved")
    assert body["approval_status"] == "approved"
    assert_problem(await decide(api, timed_out, decision="approve"), 409, "already timed_out")

    assert (await approval_row(db_sessions, approval_id)).status == "approved"
    assert len(await decisions_sent(temporal_client, task_id)) == 1
    assert len(await approval_events(db_sessions, task_id)) == 1


async def test_two_racing_decisions_leave_exactly_one(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    task_id = await submitted_task(api)
    approval_id = await seed_approval(db_sessions, task_id)

    answers = await asyncio.gather(
        *(decide(api, approval_id, decision=kind) for kind in ["approve", "reject"] * 3)
    )

    assert sorted(answer.status_code for answer in answers) == [200] + [409] * 5
    assert len(await approval_events(db_sessions, task_id)) == 1


async def test_edits_are_checked_against_the_tools_parameters(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    task_id = await submitted_task(api)
    approval_id = await seed_approval(db_sessions, task_id)
    unknown_tool = await seed_approval(db_sessions, task_id, tool="launch_rocket")

    wrong_type = await decide(api, approval_id, decision="edit", arguments={"expression": 5})
    assert_problem(wrong_type, 422, "expression", "calculator")
    missing = await decide(api, approval_id, decision="edit", arguments={})
    assert_problem(missing, 422, "expression", "missing")
    extra = {"expression": "1+1", "precision": 3}
    unknown = await decide(api, approval_id, decision="edit", arguments=extra)
    assert assert_problem(unknown, 422, "precision")["unknown_arguments"] == ["precision"]
    no_arguments = await decide(api, approval_id, decision="edit")
    assert_problem(no_arguments, 422, "arguments")
    approve_with_arguments = await decide(api, approval_id, decision="approve", arguments=extra)
    assert_problem(approve_with_arguments, 422, "arguments", "only")
    long_comment = await decide(api, approval_id, decision="reject", comment="x" * 4001)
    assert_problem(long_comment, 422, "comment")
    assert_problem(await decide(api, approval_id, decision="maybe"), 422, "decision")
    edit_unknown_tool = await decide(api, unknown_tool, decision="edit", arguments={"a": 1})
    assert_problem(edit_unknown_tool, 422, "launch_rocket")

    assert (await approval_row(db_sessions, approval_id)).status == "pending"
    assert await approval_events(db_sessions, task_id) == []
    # a reject of a tool the gateway does not know is fine
    assert (await decide(api, unknown_tool, decision="reject")).status_code == 200


async def test_a_decision_on_a_finished_task_is_409(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    for final in ["cancelled", "succeeded"]:
        task_id = await submitted_task(api)
        approval_id = await seed_approval(db_sessions, task_id)
        await set_task_status(db_sessions, task_id, final)

        response = await decide(api, approval_id, decision="approve")

        body = assert_problem(response, 409, f"task {task_id} is {final}")
        assert body["task_status"] == final
        row = await approval_row(db_sessions, approval_id)
        assert row.status == "pending" and row.decided_at is None


async def test_a_decision_for_a_closed_workflow_is_recorded_with_nothing_to_tell(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client
) -> None:
    task_id = await submitted_task(api)
    approval_id = await seed_approval(db_sessions, task_id)
    await temporal_client.get_workflow_handle(workflow_id_for_task(task_id)).terminate("test")

    response = await decide(api, approval_id, decision="approve")

    assert response.status_code == 200, response.text
    await told_row(db_sessions, approval_id)


async def test_a_decision_while_temporal_is_down_is_kept_and_the_outbox_sends_it(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client, gateway_app: FastAPI
) -> None:
    task_id = await submitted_task(api)
    approval_id = await seed_approval(db_sessions, task_id)

    with overridden(gateway_app, deps.get_temporal_client, TemporalDown()):
        response = await decide(api, approval_id, decision="edit", arguments={"expression": "1"})

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "edited"
    assert "10.0.0.7" not in response.text
    row = await approval_row(db_sessions, approval_id)
    assert row.status == "edited" and row.decided_at is not None and row.signalled_at is None
    assert await decisions_sent(temporal_client, task_id) == []
    # too recent for the outbox: the deciding request may still be signalling
    await resend_unsignalled_decisions(db_sessions, temporal_client)
    assert (await approval_row(db_sessions, approval_id)).signalled_at is None

    await resend_unsignalled_decisions(db_sessions, temporal_client, older_than=timedelta(0))

    assert (await approval_row(db_sessions, approval_id)).signalled_at is not None
    assert await decisions_sent(temporal_client, task_id) == [
        ApprovalDecided(approval_id=approval_id, decision="edit", arguments={"expression": "1"})
    ]


async def test_the_outbox_resends_decisions_older_than_two_seconds_once(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client
) -> None:
    task_id = await submitted_task(api)
    long_ago = datetime.now(UTC) - timedelta(seconds=10)
    decided = dict(decision="reject", comment="late", decided_at=long_ago, status="rejected")
    lost = await seed_approval(db_sessions, task_id, **decided)
    told = await seed_approval(db_sessions, task_id, **decided, signalled_at=long_ago)
    gone_task = await submitted_task(api)
    gone = await seed_approval(db_sessions, gone_task, **decided)
    await temporal_client.get_workflow_handle(workflow_id_for_task(gone_task)).terminate("t")

    assert await resend_unsignalled_decisions(db_sessions, temporal_client) >= 2
    await resend_unsignalled_decisions(db_sessions, temporal_client)  # nothing left to send

    assert (await approval_row(db_sessions, lost)).signalled_at is not None
    assert (await approval_row(db_sessions, gone)).signalled_at is not None
    assert (await approval_row(db_sessions, told)).signalled_at == long_ago
    assert await decisions_sent(temporal_client, task_id) == [
        ApprovalDecided(approval_id=lost, decision="reject", comment="late")
    ]


async def test_the_gateway_runs_the_outbox_in_the_background_and_stops_it(
    gateway_settings: Settings, make_api: MakeApi, db_sessions: Sessions, temporal_client: Client
) -> None:
    api = await make_api()
    task_id = await submitted_task(api)
    long_ago = datetime.now(UTC) - timedelta(seconds=10)
    approval_id = await seed_approval(
        db_sessions, task_id, status="approved", decision="approve", decided_at=long_ago
    )
    settings = gateway_settings.model_copy(update={"approval_resignal_seconds": 0.05})
    app = create_app(settings)

    before = outbox_loops()

    async with app.router.lifespan_context(app):
        assert len(outbox_loops()) == len(before) + 1
        deadline = time.monotonic() + 15
        while (await approval_row(db_sessions, approval_id)).signalled_at is None:
            assert time.monotonic() < deadline, "the outbox never sent the decision"
            await asyncio.sleep(0.05)

    assert outbox_loops() == before  # the lifespan's end stopped its loop

    assert await decisions_sent(temporal_client, task_id) == [
        ApprovalDecided(approval_id=approval_id, decision="approve")
    ]


async def test_told_decisions_still_unwritten_at_shutdown_are_written_then(
    gateway_settings: Settings, make_api: MakeApi, db_sessions: Sessions
) -> None:
    api = await make_api()
    task_id = await submitted_task(api)
    approval_id = await seed_approval(
        db_sessions, task_id, status="approved", decision="approve", decided_at=datetime.now(UTC)
    )
    app = create_app(gateway_settings)

    async with app.router.lifespan_context(app):
        app.state.decision_outbox.told(uuid.UUID(approval_id))
        # the lifespan ends at once, before the batched write was due

    assert (await approval_row(db_sessions, approval_id)).signalled_at is not None
