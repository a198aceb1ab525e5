"""The task endpoints against real Postgres and a real Temporal dev server (no worker runs,
so these check what the gateway does: rows, events, and the workflows it starts)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus

from activities.db.models import Task, TaskEvent
from activities.db.tasks import NewTask, TaskRepository
from activities.db.tenants import TenantRepository
from services.gateway.submission import request_hash
from tests.conftest import MakeApi
from workflows.contracts.tasks import AGENT_TASK_WORKFLOW, AgentTaskInput, workflow_id_for_task

Sessions = async_sessionmaker[AsyncSession]
PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """A problem+json answer with the given status whose detail mentions every word."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert body["status"] == status
    for word in words:
        assert word in body["detail"], body
    return body


async def submit(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body.setdefault("agent", "assistant")
    body.setdefault("input", "What is 2 + 2?")
    headers = {}
    if "key" in body:
        headers["Idempotency-Key"] = body.pop("key")
    return await api.post("/v1/tasks", json=body, headers=headers)


async def count_tasks(sessions: Sessions, **where: Any) -> int:
    async with sessions() as session:
        statement = select(func.count()).select_from(Task).filter_by(**where)
        return int(await session.scalar(statement) or 0)


async def listed_ids(api: httpx.AsyncClient) -> list[str]:
    response = await api.get("/v1/tasks", params={"limit": 100})
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()["items"]]


async def test_submit_stores_the_task_and_starts_its_workflow(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client
) -> None:
    response = await submit(api, input="What is 17 * 23?", metadata={"ticket": "SUP-1"})

    assert response.status_code == 201, response.text
    task = response.json()
    assert response.headers["location"] == f"/v1/tasks/{task['id']}"
    assert task["status"] == "queued"
    assert task["agent"] == "assistant"
    assert task["input"] == "What is 17 * 23?"
    assert task["metadata"] == {"ticket": "SUP-1"}
    assert task["result"] is None and task["error"] is None and task["cancel_reason"] is None
    assert task["usage"] == {
        "llm_calls": 0,
        "tool_calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "iterations": 0,
        "cost_usd": 0.0,
    }
    async with db_sessions() as session:
        row = await session.get(Task, uuid.UUID(task["id"]))
        assert row is not None
        events = list(await session.scalars(select(TaskEvent).filter_by(task_id=row.id)))
    assert row.workflow_id == workflow_id_for_task(task["id"])
    assert [(e.type, e.data) for e in events] == [("status", {"status": "queued"})]

    handle = temporal_client.get_workflow_handle(row.workflow_id)
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert described.task_queue == "agentry-default"
    assert described.workflow_type == AGENT_TASK_WORKFLOW
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [arg] = await temporal_client.data_converter.decode(started.input.payloads, [AgentTaskInput])
    assert arg.task_id == task["id"]
    assert arg.agent.name == "assistant" and arg.agent.tools == ["calculator", "current_time"]


async def test_get_returns_the_stored_task(api: httpx.AsyncClient) -> None:
    created = (await submit(api)).json()
    response = await api.get(f"/v1/tasks/{created['id']}")
    assert response.status_code == 200
    shown = response.json()
    assert shown.pop("temporal_ui_url").endswith(workflow_id_for_task(created["id"]))
    assert shown == created


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_task_and_starts_nothing(
    api: httpx.AsyncClient, db_sessions: Sessions, temporal_client: Client
) -> None:
    first = await submit(api, key="order-42", metadata={"b": 1, "a": 2})
    handle = temporal_client.get_workflow_handle(workflow_id_for_task(first.json()["id"]))
    run_id = (await handle.describe()).run_id

    again = await submit(api, key="order-42", metadata={"a": 2, "b": 1})

    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert (await handle.describe()).run_id == run_id
    assert await count_tasks(db_sessions, idempotency_key="order-42") == 1
    assert await listed_ids(api) == [first.json()["id"]]
    events = (await api.get(f"/v1/tasks/{first.json()['id']}/events")).json()["items"]
    assert len(events) == 1


async def test_the_same_idempotency_key_with_another_body_is_a_conflict(
    api: httpx.AsyncClient,
) -> None:
    first = await submit(api, key="k-1", input="one")
    second = await submit(api, key="k-1", input="two")
    assert first.status_code == 201
    assert_problem(second, 409, "Idempotency-Key", "different request")
    assert await listed_ids(api) == [first.json()["id"]]


async def test_idempotency_keys_belong_to_one_tenant(make_api: MakeApi) -> None:
    alice, bob = await make_api(), await make_api()
    mine = await submit(alice, key="shared")
    theirs = await submit(bob, key="shared", input="something else")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


async def test_a_retry_starts_the_workflow_a_crash_left_unstarted(
    make_api: MakeApi, db_sessions: Sessions, temporal_client: Client
) -> None:
    tenant = f"crashy-{uuid.uuid4().hex[:8]}"
    api = await make_api(tenant=tenant)
    task_id = uuid.uuid4()
    async with db_sessions() as session:
        tenant_row = await TenantRepository(session).get_or_create(tenant)
        await TaskRepository(session).create(
            NewTask(
                id=task_id,
                tenant_id=tenant_row.id,
                agent="assistant",
                input="hi",
                metadata={},
                workflow_id=workflow_id_for_task(str(task_id)),
                idempotency_key="crash-1",
                request_hash=request_hash("assistant", "hi", {}),
            )
        )
        await session.commit()

    retry = await submit(api, key="crash-1", input="hi")

    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == str(task_id)
    described = await temporal_client.get_workflow_handle(f"task-{task_id}").describe()
    assert described.status == WorkflowExecutionStatus.RUNNING


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b'{"agent": "assistant", "input": ', 400, ["not valid JSON"]),
        (b"[1, 2]", 422, ["body"]),
        (b'{"input": "hi"}', 422, ["body.agent", "Field required"]),
        (b'{"agent": "assistant"}', 422, ["body.input", "Field required"]),
        (b'{"agent": "assistant", "input": ""}', 422, ["body.input", "at least 1 character"]),
        (b'{"agent": "assistant", "input": "  \\n "}', 422, ["body.input", "whitespace"]),
        (b'{"agent": "assistant", "input": 5}', 422, ["body.input", "valid string"]),
        (b'{"agent": "assistant", "input": "x", "metadata": [1]}', 422, ["body.metadata"]),
        (b'{"agent": "assistant", "input": "x", "inputs": "y"}', 422, ["body.inputs"]),
        (b'{"agent": "nobody", "input": "hi"}', 422, ["'nobody'", "assistant"]),
    ],
)
async def test_a_bad_submit_is_refused_with_a_problem_and_stores_nothing(
    api: httpx.AsyncClient, content: bytes, status: int, words: list[str]
) -> None:
    response = await api.post(
        "/v1/tasks", content=content, headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, status, *words)
    if status == 422 and "nobody" not in content.decode():
        assert body["errors"] and all({"field", "message"} <= e.keys() for e in body["errors"])
    assert await listed_ids(api) == []


async def test_a_body_that_is_not_json_is_refused_with_415(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/tasks", content=b"agent=assistant&input=hi")
    assert_problem(response, 415, "application/json")


async def test_an_unknown_agent_lists_the_available_ones(api: httpx.AsyncClient) -> None:
    response = await submit(api, agent="nobody")
    body = assert_problem(response, 422, "unknown agent 'nobody'")
    assert "assistant" in body["available_agents"]
    assert body["available_agents"] == sorted(body["available_agents"])


async def test_oversized_input_and_metadata_are_refused_with_413(
    api: httpx.AsyncClient, gateway_app: Any
) -> None:
    limit = gateway_app.state.settings.max_input_bytes
    exact = await submit(api, input="a" * limit)
    # fewer characters than the limit, but more UTF-8 bytes
    too_big = await submit(api, input="é" * (limit // 2 + 1))
    meta_limit = gateway_app.state.settings.max_metadata_bytes
    too_much_meta = await submit(api, metadata={"blob": "x" * meta_limit})

    assert exact.status_code == 201, exact.text
    body = assert_problem(too_big, 413, f"{limit + 2} bytes", f"limit is {limit} bytes")
    assert (body["size"], body["limit"]) == (limit + 2, limit)
    assert_problem(too_much_meta, 413, "metadata is", "bytes as JSON", f"limit is {meta_limit}")
    assert await listed_ids(api) == [exact.json()["id"]]


async def test_an_overlong_idempotency_key_is_refused(api: httpx.AsyncClient) -> None:
    response = await submit(api, key="k" * 201)
    assert_problem(response, 422, "header.Idempotency-Key", "at most 200")
    assert await listed_ids(api) == []


async def test_unknown_malformed_and_foreign_task_ids_are_404(make_api: MakeApi) -> None:
    owner, stranger = await make_api(), await make_api()
    task_id = (await submit(owner)).json()["id"]
    for api, path in [
        (owner, f"/v1/tasks/{uuid.uuid4()}"),
        (owner, "/v1/tasks/not-a-uuid"),
        (stranger, f"/v1/tasks/{task_id}"),
        (stranger, f"/v1/tasks/{task_id}/events"),
        (stranger, f"/v1/tasks/{task_id}/messages"),
    ]:
        response = await api.get(path)
        assert_problem(response, 404, "not found")
        assert response.json()["instance"] == path


async def test_a_tenant_never_sees_another_tenants_tasks(make_api: MakeApi) -> None:
    alice, bob = await make_api(), await make_api()
    task_id = (await submit(alice)).json()["id"]
    assert await listed_ids(bob) == []
    assert (await bob.get("/v1/tasks", params={"agent": "assistant"})).json()["items"] == []
    assert await listed_ids(alice) == [task_id]


async def test_pages_return_every_task_once_newest_first(api: httpx.AsyncClient) -> None:
    created = [(await submit(api, input=f"task {n}")).json()["id"] for n in range(7)]
    seen: list[str] = []
    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/tasks", params=params)).json()
        pages.append(len(page["items"]))
        seen += [task["id"] for task in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [3, 3, 1]
    assert seen == list(reversed(created))


async def test_list_filters_by_status_and_agent(api: httpx.AsyncClient) -> None:
    task_id = (await submit(api)).json()["id"]
    queued = (await api.get("/v1/tasks", params={"status": "queued"})).json()["items"]
    running = (await api.get("/v1/tasks", params={"status": "running"})).json()["items"]
    other = (await api.get("/v1/tasks", params={"agent": "other"})).json()["items"]
    assert [t["id"] for t in queued] == [task_id]
    assert running == [] and other == []


async def test_list_filters_by_submit_time_and_pages_within_it(api: httpx.AsyncClient) -> None:
    ids = [(await submit(api, input=f"task {n}")).json()["id"] for n in range(3)]
    times = [(await api.get(f"/v1/tasks/{task_id}")).json()["created_at"] for task_id in ids]

    async def listed(**params: Any) -> list[str]:
        page = (await api.get("/v1/tasks", params=params)).json()
        return [task["id"] for task in page["items"]]

    first = (await api.get("/v1/tasks", params={"created_after": times[1], "limit": 1})).json()
    rest_params = {"created_after": times[1], "limit": 1, "cursor": first["next_cursor"]}
    rest = (await api.get("/v1/tasks", params=rest_params)).json()

    assert await listed(created_after=times[1]) == [ids[2], ids[1]]
    assert await listed(created_before=times[1]) == [ids[0]]
    assert await listed(created_after=times[1], created_before=times[2]) == [ids[1]]
    assert [t["id"] for t in first["items"] + rest["items"]] == [ids[2], ids[1]]
    assert rest["next_cursor"] is None


async def test_a_task_links_to_its_workflow_in_the_temporal_ui(api: httpx.AsyncClient) -> None:
    task_id = (await submit(api)).json()["id"]
    task = (await api.get(f"/v1/tasks/{task_id}")).json()
    listed = (await api.get("/v1/tasks")).json()["items"]
    # the test gateway's settings: the embedded Temporal, its UI on the default port
    assert task["temporal_ui_url"] == (
        f"http://127.0.0.1:8233/namespaces/default/workflows/{workflow_id_for_task(task_id)}"
    )
    assert "temporal_ui_url" not in listed[0]  # only GET /v1/tasks/{id} looks it up


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"cursor": "bogus"}, 400, ["cursor is not valid"]),
        ({"created_after": "yesterday"}, 422, ["query.created_after", "datetime"]),
        (
            {"created_after": "2026-12-05T00:00:00Z", "created_before": "2026-12-04T00:00:00Z"},
            422,
            ["`created_after` must be before `created_before`"],
        ),
        ({"status": "done"}, 422, ["query.status", "'queued'"]),
        ({"limit": 0}, 422, ["query.limit", "greater than or equal to 1"]),
        ({"limit": 101}, 422, ["query.limit", "less than or equal to 100"]),
    ],
)
async def test_bad_list_parameters_say_what_was_wrong(
    api: httpx.AsyncClient, params: dict[str, Any], status: int, words: list[str]
) -> None:
    assert_problem(await api.get("/v1/tasks", params=params), status, *words)
