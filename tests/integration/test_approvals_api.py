"""Reading approvals: the inbox (filters, pages, tenants), one approval with its context, a
task's audit trail; and which roles may do what. Approval rows are seeded the way the
workflow's activity writes them, for tasks submitted through the API (no worker runs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import MakeApi
from tests.integration.approval_helpers import (
    CONTEXT,
    Sessions,
    api_as,
    new_tenant,
    seed_approval,
    submitted_task,
)
from tests.integration.test_tasks_api import assert_problem, submit

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def inbox_ids(api: httpx.AsyncClient, **params: str | int) -> list[str]:
    response = await api.get("/v1/approvals", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_the_inbox_lists_open_approvals_newest_first_and_filters(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    first, second = await submitted_task(api), await submitted_task(api)
    oldest = await seed_approval(db_sessions, first, created_at=T0)
    escalated = await seed_approval(
        db_sessions, first, status="escalated", escalated_at=T0, created_at=T0 + timedelta(1)
    )
    approved = await seed_approval(
        db_sessions, second, status="approved", decision="approve", created_at=T0 + timedelta(2)
    )
    mailer = await seed_approval(
        db_sessions, second, agent="mailer", tool="send_email", created_at=T0 + timedelta(3)
    )

    assert await inbox_ids(api) == [mailer, escalated, oldest]
    assert await inbox_ids(api, status="open") == [mailer, escalated, oldest]
    assert await inbox_ids(api, status="approved") == [approved]
    assert await inbox_ids(api, status="pending") == [mailer, oldest]
    assert await inbox_ids(api, status="timed_out") == []
    assert await inbox_ids(api, agent="mailer") == [mailer]
    assert await inbox_ids(api, task_id=first) == [escalated, oldest]

    item = (await api.get("/v1/approvals", params={"agent": "mailer"})).json()["items"][0]
    assert item["task_id"] == second
    assert item["tool"] == "send_email"
    assert item["arguments"] == {"expression": "17*23"}
    assert item["status"] == "pending"
    assert item["decision"] is None
    assert item["context"] == CONTEXT and item["tool_schema"] is None  # unknown tool

    assert_problem(await api.get("/v1/approvals", params={"status": "sideways"}), 422, "status")
    assert_problem(await api.get("/v1/approvals", params={"task_id": "nope"}), 422, "task_id")


async def test_the_inbox_pages_with_a_cursor(api: httpx.AsyncClient, db_sessions: Sessions) -> None:
    task_id = await submitted_task(api)
    seeded = [
        await seed_approval(db_sessions, task_id, created_at=T0 + timedelta(minutes=i))
        for i in range(5)
    ]
    # two with the same created_at: the id breaks the tie, so none is skipped or repeated
    seeded += [await seed_approval(db_sessions, task_id, created_at=T0) for _ in range(2)]

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/approvals", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    ties = sorted([seeded[0], *seeded[5:]], key=uuid.UUID, reverse=True)
    assert seen == [*reversed(seeded[1:5]), *ties]
    assert_problem(await api.get("/v1/approvals", params={"cursor": "garbage"}), 400, "cursor")


async def test_approvals_are_tenant_scoped(make_api: MakeApi, db_sessions: Sessions) -> None:
    owner, stranger = await make_api(), await make_api()
    task_id = await submitted_task(owner)
    approval_id = await seed_approval(db_sessions, task_id)

    assert await inbox_ids(stranger) == []
    assert await inbox_ids(stranger, task_id=task_id) == []
    for response in [
        await stranger.get(f"/v1/approvals/{approval_id}"),
        await stranger.post(f"/v1/approvals/{approval_id}/decision", json={"decision": "approve"}),
    ]:
        assert_problem(response, 404, f"approval {approval_id} not found")
    assert_problem(await stranger.get(f"/v1/tasks/{task_id}/approvals"), 404, "not found")
    assert (await owner.get(f"/v1/approvals/{approval_id}")).status_code == 200


async def test_an_unknown_or_malformed_approval_id_is_404(api: httpx.AsyncClient) -> None:
    for approval_id in [str(uuid.uuid4()), "not-a-uuid"]:
        assert_problem(await api.get(f"/v1/approvals/{approval_id}"), 404, approval_id)
        response = await api.post(
            f"/v1/approvals/{approval_id}/decision", json={"decision": "reject"}
        )
        assert_problem(response, 404, approval_id)


async def test_one_approval_comes_with_its_context_and_the_tool_schema(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    task_id = await submitted_task(api)
    approval_id = await seed_approval(db_sessions, task_id)
    unknown_tool = await seed_approval(db_sessions, task_id, tool="launch_rocket")

    body = (await api.get(f"/v1/approvals/{approval_id}")).json()

    assert body["id"] == approval_id and body["task_id"] == task_id
    assert body["agent"] == "assistant"
    assert body["tool"] == "calculator"
    assert body["arguments"] == {"expression": "17*23"}
    assert body["reason"] == "calculator: every call needs approval"
    assert body["status"] == "pending" and body["on_timeout"] == "reject"
    assert body["deadline_at"] and body["created_at"] and body["escalated_at"] is None
    assert body["context"] == CONTEXT
    assert body["tool_schema"]["properties"]["expression"]["type"] == "string"
    assert body["tool_schema"]["required"] == ["expression"]
    assert body["decision"] is None
    assert (await api.get(f"/v1/approvals/{unknown_tool}")).json()["tool_schema"] is None


async def test_a_tasks_audit_lists_its_approvals_in_order_with_the_argument_diff(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    task_id = await submitted_task(api)
    other_task = await submitted_task(api)
    decided_at = T0 + timedelta(minutes=5)
    edited = await seed_approval(
        db_sessions,
        task_id,
        tool="write_file",
        arguments={"path": "a.txt", "content": "hi", "mode": "w"},
        status="edited",
        decision="edit",
        decided_arguments={"path": "b.txt", "content": "hi", "encoding": "utf-8"},
        decided_by_name="alice",
        decided_at=decided_at,
        comment="not a.txt",
        created_at=T0,
    )
    timed_out = await seed_approval(
        db_sessions,
        task_id,
        status="timed_out",
        decision="reject",
        decided_at=decided_at,
        comment="no decision before the deadline",
        created_at=T0 + timedelta(minutes=1),
    )
    pending = await seed_approval(db_sessions, task_id, created_at=T0 + timedelta(minutes=2))
    await seed_approval(db_sessions, other_task)

    response = await api.get(f"/v1/tasks/{task_id}/approvals")

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["id"] for item in items] == [edited, timed_out, pending]
    first = items[0]
    assert first["requested_at"].startswith("2026-01-01T12:00:00")
    assert first["tool"] == "write_file"
    assert first["arguments"] == {"path": "a.txt", "content": "hi", "mode": "w"}
    assert first["status"] == "edited" and first["decision"] == "edit"
    assert first["decided_by"] == "alice" and first["comment"] == "not a.txt"
    assert first["decided_at"].startswith("2026-01-01T12:05:00")
    assert first["argument_diff"] == {
        "changed": {"path": {"from": "a.txt", "to": "b.txt"}},
        "added": {"encoding": "utf-8"},
        "removed": ["mode"],
    }
    assert items[1]["status"] == "timed_out" and items[1]["decision"] == "reject"
    assert items[1]["decided_by"] is None and items[1]["argument_diff"] is None
    assert items[2]["status"] == "pending" and items[2]["decision"] is None
    assert {"reason", "escalated_at", "deadline_at"} <= items[2].keys()


async def test_roles_decide_who_may_submit_and_who_may_decide(
    make_api: MakeApi, db_sessions: Sessions
) -> None:
    tenant = new_tenant()
    roles = ["submitter", "approver", "operator", "admin"]
    apis = {role: await api_as(make_api, db_sessions, tenant, role, role) for role in roles}
    task_id = await submitted_task(apis["admin"])
    approval_id = await seed_approval(db_sessions, task_id)

    for role in ["submitter", "operator", "admin"]:
        assert (await submit(apis[role])).status_code == 201, role
    forbidden_writes = [
        await submit(apis["approver"]),
        await apis["approver"].post(f"/v1/tasks/{task_id}/cancel"),
        await apis["approver"].post(f"/v1/tasks/{task_id}/messages", json={"content": "hi"}),
    ]
    for response in forbidden_writes:
        body = assert_problem(response, 403, "'approver'", "submitter, operator, admin")
        assert body["allowed_roles"] == ["submitter", "operator", "admin"]
    for role in ["submitter", "operator"]:
        response = await apis[role].post(
            f"/v1/approvals/{approval_id}/decision", json={"decision": "approve"}
        )
        body = assert_problem(response, 403, f"{role!r}", "decide approvals", "approver, admin")
        assert body["allowed_roles"] == ["approver", "admin"]
    # reading is open to every role
    for role in roles:
        api = apis[role]
        assert (await api.get(f"/v1/tasks/{task_id}")).status_code == 200, role
        assert (await api.get("/v1/approvals")).status_code == 200, role
        assert (await api.get(f"/v1/approvals/{approval_id}")).status_code == 200, role
        assert (await api.get(f"/v1/tasks/{task_id}/approvals")).status_code == 200, role
    # the approver decides; the row is still open until then
    response = await apis["approver"].post(
        f"/v1/approvals/{approval_id}/decision", json={"decision": "approve"}
    )
    assert response.status_code == 200, response.text
