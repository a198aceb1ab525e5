"""Agent spec versions on the real stack, through gateways started in-process on a folder of
specs that changes between them: each task records the version it runs with, a conversation
started on version 1 goes on with version 1 after the gateway loaded version 2, a submit may
pin version 1, GET /v1/agents/{name} lists the versions, and a spec changed without a new
version stops the gateway with an error naming the file and what changed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from activities.db.agent_versions import AgentVersionRepository
from activities.db.engine import create_engine, create_session_factory
from services.gateway.app import create_app
from tests.fakes.script_client import reply_text
from tests.integration.helpers import gateway_refusal, wait_for_status
from tests.stack import RunningStack


def write_spec(folder: Path, name: str, version: int, marker: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nversion: {version}\nrole: probe\nmodel: scripted\n"
        "tool_call_format: native\nidle_timeout: 60s\n"
        f"system_prompt: 'You are version {version}. [script:{marker}]'\n"
    )
    return path


@asynccontextmanager
async def gateway(stack: RunningStack, agents: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway on the stack's Temporal and Postgres that reads its specs from `agents`."""
    app = create_app(stack.settings.model_copy(update={"agents_dir": agents}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {stack.info.api_key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", headers=headers, timeout=30
        ) as api:
            yield api


async def answered(api: httpx.AsyncClient, task_id: str, count: int) -> list[str]:
    """The assistant's answers once there are `count` of them."""
    for _ in range(600):
        items = (await api.get(f"/v1/tasks/{task_id}/messages")).json()["items"]
        answers = [m["content"] for m in items if m["role"] == "assistant" and m["content"]]
        if len(answers) >= count:
            return answers
        await asyncio.sleep(0.1)
    raise AssertionError(f"task {task_id} has not answered {count} times")


async def test_tasks_keep_the_version_they_started_with_and_may_pin_one(
    stack: RunningStack, tmp_path: Path
) -> None:
    name = f"probe-{uuid.uuid4().hex[:8]}"
    v1, v2 = f"{name}-v1", f"{name}-v2"
    await stack.scripted.script(
        v1, [reply_text("one"), reply_text("two"), reply_text("pinned"), reply_text("small")]
    )
    await stack.scripted.script(v2, [reply_text("current")])
    spec = write_spec(tmp_path, name, 1, v1)

    async with gateway(stack, tmp_path) as api:
        started = (await api.post("/v1/tasks", json={"agent": name, "input": "hi"})).json()
        assert started["agent_version"] == 1
        assert await answered(api, started["id"], 1) == ["one"]

    write_spec(tmp_path, name, 2, v2)
    async with gateway(stack, tmp_path) as api:
        # the conversation started on version 1 goes on with version 1's prompt
        sent = await api.post(f"/v1/tasks/{started['id']}/messages", json={"content": "more"})
        assert sent.status_code == 202, sent.text
        assert await answered(api, started["id"], 2) == ["one", "two"]

        current = (await api.post("/v1/tasks", json={"agent": name, "input": "hi"})).json()
        pinned = await api.post(
            "/v1/tasks", json={"agent": name, "input": "hi", "agent_version": 1}
        )
        assert pinned.status_code == 201, pinned.text
        assert current["agent_version"] == 2 and pinned.json()["agent_version"] == 1
        assert await answered(api, current["id"], 1) == ["current"]
        assert await answered(api, pinned.json()["id"], 1) == ["pinned"]

        # pinned and on another model group: still version 1's prompt, on that group
        on_small = await api.post(
            "/v1/tasks",
            json={"agent": name, "input": "hi", "agent_version": 1, "model": "scripted-small"},
        )
        assert on_small.status_code == 201, on_small.text
        assert (on_small.json()["agent_version"], on_small.json()["model"]) == (1, "scripted-small")
        assert await answered(api, on_small.json()["id"], 1) == ["small"]
        huge = await api.post(
            "/v1/tasks", json={"agent": name, "input": "hi", "agent_version": 2**31}
        )
        assert huge.status_code == 422, huge.text
        unknown = await api.post(
            "/v1/tasks", json={"agent": name, "input": "hi", "agent_version": 7}
        )
        detail = (await api.get(f"/v1/agents/{name}")).json()
        old = (await api.get(f"/v1/agents/{name}/versions/1")).json()
        missing = await api.get(f"/v1/agents/{name}/versions/7")
        for task_id in (started["id"], current["id"], pinned.json()["id"], on_small.json()["id"]):
            await api.post(f"/v1/tasks/{task_id}/cancel")
            await wait_for_status(api, task_id)

    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["versions"] == [2, 1]
    assert detail["version"] == 2 and detail["role"] == "probe"
    assert detail["spec"]["system_prompt"] == f"You are version 2. [script:{v2}]"
    # what the file sets: defaults are not part of a version
    assert set(detail["spec"]) == {
        "name", "version", "role", "model", "tool_call_format", "idle_timeout", "system_prompt"
    }  # fmt: skip
    assert [(v["version"], v["current"]) for v in detail["versions"]] == [(2, True), (1, False)]
    assert old["spec"]["system_prompt"] == f"You are version 1. [script:{v1}]"
    assert old["digest"] == detail["versions"][1]["digest"]
    assert missing.status_code == 404

    # version 2 again, but saying something else: refused, naming the file and the change
    spec.write_text(spec.read_text().replace("You are version 2.", "You are changed."))
    refusal = await gateway_refusal(stack, tmp_path)
    assert str(spec) in refusal
    assert "version 2 of agent" in refusal and "(system_prompt differ)" in refusal


async def test_a_pinned_version_that_can_no_longer_run_is_refused(
    stack: RunningStack, tmp_path: Path
) -> None:
    name = f"probe-{uuid.uuid4().hex[:8]}"
    spec = write_spec(tmp_path, name, 1, f"{name}-v1")
    spec.write_text(spec.read_text() + "tools: [calculator]\n")
    async with gateway(stack, tmp_path):
        pass  # version 1 recorded, with its tool
    write_spec(tmp_path, name, 2, f"{name}-v2")
    async with gateway(stack, tmp_path) as api:
        ok = await api.post("/v1/tasks", json={"agent": name, "input": "hi", "agent_version": 1})
        await api.post(f"/v1/tasks/{ok.json()['id']}/cancel")
    assert ok.status_code == 201  # calculator still exists: version 1 runs

    # a version recorded with a tool this deployment no longer has
    engine = create_engine(stack.settings.resolved_database_url)
    try:
        async with create_session_factory(engine)() as session:
            gone = {"name": name, "version": 3, "model": "scripted", "tools": ["teleport"]}
            await AgentVersionRepository(session).record(name, 3, gone, "x" * 64)
            await session.commit()
    finally:
        await engine.dispose()
    async with gateway(stack, tmp_path) as api:
        refused = await api.post(
            "/v1/tasks", json={"agent": name, "input": "hi", "agent_version": 3}
        )
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("agent-version-unusable")
    assert "unknown tools ['teleport']" in refused.json()["detail"]
