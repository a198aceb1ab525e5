"""Everything around the task endpoints: auth, health, docs, agents, events, transcripts, and
how failures of Temporal or of the gateway itself are reported."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.service import RPCError, RPCStatusCode

from activities.db.engine import create_engine, create_session_factory
from activities.db.events import EventRepository, NewEvent
from activities.db.models import ApiKey, Message, Task
from services.gateway import deps
from services.key_service import hash_api_key
from tests.conftest import MakeApi
from tests.integration.test_tasks_api import assert_problem, listed_ids, submit
from tests.stack import free_port

Sessions = async_sessionmaker[AsyncSession]


@contextmanager
def overridden(app: FastAPI, dependency: Callable[..., Any], value: Any) -> Iterator[None]:
    app.dependency_overrides[dependency] = lambda: value
    try:
        yield
    finally:
        app.dependency_overrides.pop(dependency, None)


class UnreachableTemporal:
    """Stands in for a Temporal client while the server is down."""

    def __init__(self) -> None:
        self.service_client = self

    async def start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        raise RPCError("connection refused at 10.0.0.7:7233", RPCStatusCode.UNAVAILABLE, b"")

    def get_workflow_handle(self, workflow_id: str) -> Any:
        return self

    async def describe(self, *args: Any, **kwargs: Any) -> Any:
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

    async def check_health(self, *args: Any, **kwargs: Any) -> bool:
        raise RPCError("connection refused at 10.0.0.7:7233", RPCStatusCode.UNAVAILABLE, b"")


async def test_requests_without_a_valid_key_are_401(
    make_api: MakeApi, db_sessions: Sessions
) -> None:
    valid = await make_api()
    revoked_key = valid.headers["Authorization"].removeprefix("Bearer ")
    async with db_sessions() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == hash_api_key(revoked_key))
            .values(revoked_at=func.now())
        )
        await session.commit()
    cases = {
        "missing": await make_api(key=""),
        "wrong": await make_api(key="agk_" + "x" * 43),
        "revoked": await make_api(key=revoked_key),
    }
    for name, api in cases.items():
        for response in [
            await api.post("/v1/tasks", json={"agent": "assistant", "input": "hi"}),
            await api.get("/v1/tasks"),
            await api.get(f"/v1/tasks/{uuid.uuid4()}"),
            await api.get("/v1/agents"),
            # the decision route checks the key in its own statement: every branch of it
            await api.post(f"/v1/approvals/{uuid.uuid4()}/decision", json={"decision": "approve"}),
            await api.post("/v1/approvals/not-a-uuid/decision", json={"decision": "reject"}),
            await api.post(
                f"/v1/approvals/{uuid.uuid4()}/decision",
                json={"decision": "edit", "arguments": {"path": "x"}},
            ),
        ]:
            word = "missing API key" if name == "missing" else "not valid or was revoked"
            assert_problem(response, 401, word)
            assert response.headers["www-authenticate"] == "Bearer"


async def test_task_writing_roles_may_submit_and_approvers_may_not(make_api: MakeApi) -> None:
    for role in ["submitter", "operator", "admin"]:
        api = await make_api(role=role)
        assert (await submit(api)).status_code == 201
    approver = await make_api(role="approver")
    assert_problem(await submit(approver), 403, "'approver'", "allowed roles")
    assert (await approver.get("/v1/tasks")).status_code == 200


async def test_health_and_docs_need_no_key(make_api: MakeApi) -> None:
    anonymous = await make_api(key="")
    assert (await anonymous.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "temporal": "ok"}
    assert (await anonymous.get("/docs")).status_code == 200
    schema = (await anonymous.get("/openapi.json")).json()
    assert {"/v1/tasks", "/v1/tasks/{task_id}", "/v1/tasks/{task_id}/cancel"} <= schema[
        "paths"
    ].keys()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    conflict = schema["paths"]["/v1/tasks"]["post"]["responses"]["409"]
    assert "application/problem+json" in conflict["content"]
    create = schema["components"]["schemas"]["TaskCreate"]
    assert create["examples"] and create["properties"]["input"]["description"]


async def test_readyz_is_503_when_temporal_is_down_without_saying_why(
    make_api: MakeApi, gateway_app: FastAPI
) -> None:
    anonymous = await make_api(key="")
    with overridden(gateway_app, deps.get_temporal_client, UnreachableTemporal()):
        response = await anonymous.get("/readyz")
    body = assert_problem(response, 503, "temporal")
    assert body["checks"] == {"postgres": "ok", "temporal": "unavailable"}
    assert "10.0.0.7" not in response.text


async def test_a_submit_temporal_refuses_answers_503_and_stores_nothing(
    api: httpx.AsyncClient, gateway_app: FastAPI, db_sessions: Sessions
) -> None:
    with overridden(gateway_app, deps.get_temporal_client, UnreachableTemporal()):
        response = await submit(api, key="while-down")
    assert_problem(response, 503, "could not be started", "retry")
    assert "10.0.0.7" not in response.text
    assert await listed_ids(api) == []
    async with db_sessions() as session:
        left = await session.scalar(
            select(func.count()).select_from(Task).filter_by(idempotency_key="while-down")
        )
    assert left == 0
    # once Temporal is back, the same request goes through
    assert (await submit(api, key="while-down")).status_code == 201


async def test_an_unexpected_error_is_a_500_without_its_text(
    make_api: MakeApi, gateway_app: FastAPI
) -> None:
    api = await make_api(raise_app_exceptions=False)

    class BrokenCatalog:
        def names(self) -> list[str]:
            raise RuntimeError("password=hunter2 at db.internal")

    with overridden(gateway_app, deps.get_agent_catalog, BrokenCatalog()):
        response = await api.get("/v1/agents")
    body = assert_problem(response, 500, "internal error")
    assert body["detail"] == "internal error"
    assert "hunter2" not in response.text and "RuntimeError" not in response.text


async def test_unknown_paths_and_methods_are_problems(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/nothing"), 404, "/v1/nothing")
    assert_problem(await api.delete("/v1/tasks"), 405)


async def test_agents_lists_the_catalog(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/agents")
    assert response.status_code == 200
    items = response.json()["items"]
    names = [item["name"] for item in items]
    assert "assistant" in names and names == sorted(names)
    [agent] = [item for item in items if item["name"] == "assistant"]
    assert agent["tools"] == ["calculator", "current_time"]
    assert (agent["pool"], agent["model"]) == ("default", "agent-default")
    assert agent["description"]
    # the model group's context budget, and memory summarising before it is reached
    assert agent["context"] == {"context_window": 8192, "output_reserve": 1024}
    assert agent["memory"]["model"] == "agent-small"
    assert agent["memory"]["summarize_threshold"] < 8192 - 1024


async def test_events_come_in_order_and_resume_after_an_id(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    task_id = (await submit(api)).json()["id"]
    async with db_sessions() as session:
        events = EventRepository(session)
        for n in range(4):
            await events.add(uuid.UUID(task_id), f"llm:{n}", NewEvent("llm_call", {"n": n}))
        assert await events.add(uuid.UUID(task_id), "llm:0", NewEvent("llm_call", {"n": 0})) is None
        await session.commit()

    everything = (await api.get(f"/v1/tasks/{task_id}/events")).json()["items"]
    ids = [event["id"] for event in everything]
    after = await api.get(f"/v1/tasks/{task_id}/events", params={"after": ids[1], "limit": 2})
    bad = await api.get(f"/v1/tasks/{task_id}/events", params={"after": "x"})

    assert ids == sorted(ids) and len(ids) == 5
    assert everything[0]["type"] == "status" and everything[0]["data"] == {"status": "queued"}
    assert [e["data"] for e in everything[1:]] == [{"n": n} for n in range(4)]
    assert {"id", "type", "data", "created_at"} == everything[0].keys()
    assert [e["id"] for e in after.json()["items"]] == ids[2:4]
    assert_problem(bad, 422, "query.after")


async def test_messages_are_the_transcript_in_order(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    task_id = uuid.UUID((await submit(api)).json()["id"])
    call = [{"id": "c1", "name": "calculator", "arguments": {"expression": "2+2"}}]
    async with db_sessions() as session:
        session.add_all(
            [
                Message(task_id=task_id, step_key="m0", role="system", content="be precise"),
                Message(task_id=task_id, step_key="m1", role="user", content="2+2?"),
                Message(task_id=task_id, step_key="m2", role="assistant", tool_calls=call),
                Message(
                    task_id=task_id,
                    step_key="m3",
                    role="tool",
                    content="4",
                    tool_call_id="c1",
                    name="calculator",
                ),
            ]
        )
        await session.commit()

    items = (await api.get(f"/v1/tasks/{task_id}/messages")).json()["items"]

    assert [m["role"] for m in items] == ["system", "user", "assistant", "tool"]
    assert items[2]["tool_calls"] == call and items[2]["content"] is None
    assert (items[3]["tool_call_id"], items[3]["name"], items[3]["content"]) == (
        "c1",
        "calculator",
        "4",
    )
    assert set(items[0]) == {
        "id",
        "role",
        "content",
        "tool_calls",
        "tool_call_id",
        "name",
        "kind",
        "summary_of",
        "created_at",
    }
    assert {item["kind"] for item in items} == {"message"}  # no summary in a short task


class LostDatabase:
    """Stands in for the decision repository when Postgres dropped the connection mid-statement."""

    async def record_decision(self, *args: Any, **kwargs: Any) -> Any:
        raise asyncpg.exceptions.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation (db.internal:5432)"
        )


async def test_an_unreachable_database_is_a_503_to_retry_not_a_500(
    api: httpx.AsyncClient, gateway_app: FastAPI
) -> None:
    # nothing listens on this port: every session connects and is refused
    unreachable = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    factory = create_session_factory(unreachable)

    async def refused_session() -> AsyncIterator[AsyncSession]:
        async with factory() as session:
            yield session

    gateway_app.dependency_overrides[deps.get_session] = refused_session
    try:
        answers = [await api.get("/v1/tasks"), await submit(api, key="db-down")]
    finally:
        gateway_app.dependency_overrides.pop(deps.get_session)
        await unreachable.dispose()
    with overridden(gateway_app, deps.get_decision_repository, LostDatabase()):
        answers.append(
            await api.post(f"/v1/approvals/{uuid.uuid4()}/decision", json={"decision": "approve"})
        )
    for response in answers:
        assert_problem(response, 503, "database is unreachable", "retry")
        assert response.headers["retry-after"] == "2"
        assert "db.internal" not in response.text and "127.0.0.1" not in response.text
    # with the database back, the same submit goes through
    assert (await submit(api, key="db-down")).status_code == 201
