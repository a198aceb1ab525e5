"""A submit's `model`: the task runs its model turns on that model group instead of its
agent's, stores and returns it, and an unknown group is refused before anything is stored."""

from __future__ import annotations

import uuid

import httpx
from temporalio.client import Client

from services.gateway.submission import request_hash
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import events, wait_for_status
from tests.integration.scheduling_helpers import Sessions, task_rows
from tests.integration.test_tasks_api import assert_problem, count_tasks, submit
from tests.stack import RunningStack
from workflows.contracts.tasks import AgentTaskInput, workflow_id_for_task


async def test_the_model_is_stored_returned_and_used_for_every_turn(
    stack: RunningStack,
) -> None:
    marker = await stack.scripted.script(
        unique_key("override"),
        [reply_tool_calls([("calculator", {"expression": "6*7"})]), reply_text("42")],
    )
    async with stack.api() as api:
        response = await submit(api, agent="scripted-native", input=marker, model="scripted-small")
        assert response.status_code == 201, response.text
        task = response.json()
        assert task["model"] == "scripted-small"
        done = await wait_for_status(api, task["id"])
        recorded = await events(api, task["id"])
        plain = await submit(api, agent="scripted-native", input="no override")
        assert plain.status_code == 201, plain.text

    assert done["status"] == "succeeded" and done["result"] == "42"
    assert done["model"] == "scripted-small"
    turns = [event["data"] for event in recorded if event["type"] == "llm_call"]
    assert [turn["model"] for turn in turns] == ["scripted-small", "scripted-small"]
    assert plain.json()["model"] == "scripted"  # without one: the agent's own
    key = marker.removeprefix("[script:").removesuffix("]")
    assert {request["model"] for request in await stack.scripted.requests(key)} == {
        "scripted-small"
    }


async def test_the_workflow_gets_the_overriding_groups_context_budget(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    response = await submit(api, model="agent-small")

    assert response.status_code == 201, response.text
    handle = temporal_client.get_workflow_handle(workflow_id_for_task(response.json()["id"]))
    started = (await handle.fetch_history()).events[0]
    [payload] = started.workflow_execution_started_event_attributes.input.payloads
    agent = AgentTaskInput.model_validate_json(payload.data).agent
    assert agent.name == "assistant" and agent.model == "agent-small"
    assert agent.context is not None and agent.context.context_window == 4096
    assert agent.budgets.max_model_calls == 20  # the rest of the agent's config stays


async def test_an_unknown_model_group_is_refused_listing_the_known_ones(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    marker = f"model {uuid.uuid4()}"

    response = await submit(api, input=marker, model="gpt-nothing")

    body = assert_problem(response, 422, "body.model", "'gpt-nothing'")
    assert [error["field"] for error in body["errors"]] == ["body.model"]
    assert body["model_groups"] == ["agent-default", "agent-small"]
    assert await count_tasks(db_sessions, input=marker) == 0
    empty = await submit(api, input=marker, model="")
    assert_problem(empty, 422, "body.model")
    assert await count_tasks(db_sessions, input=marker) == 0


async def test_the_idempotency_key_covers_the_model(
    api: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    first = await submit(api, input="hi", model="agent-small", key="model-key")
    assert first.status_code == 201, first.text

    again = await submit(api, input="hi", model="agent-small", key="model-key")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    for other in ({"model": "agent-default"}, {}):
        conflict = await submit(api, input="hi", key="model-key", **other)
        assert_problem(conflict, 409, "Idempotency-Key")

    plain = await submit(api, input="hi", key="plain-model-key")
    assert plain.status_code == 201, plain.text
    rows = await task_rows(db_sessions, [first.json()["id"], plain.json()["id"]])
    assert rows[0].request_hash == request_hash("assistant", "hi", {}, model="agent-small")
    assert rows[1].request_hash == request_hash("assistant", "hi", {})  # as before models
    assert [row.model for row in rows] == ["agent-small", "agent-default"]
