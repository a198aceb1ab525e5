"""Budgets at submit: a task gets its agent's defaults, or what the submit asks for, within its
tenant's limits (the settings' unless `agentry tenant-budgets` set the tenant's own)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from tests.conftest import MakeApi


async def agentry(postgres_url: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", *args,
        env={**os.environ, "AGENTRY_DATABASE_URL": postgres_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_a_tenants_own_limits_bound_what_a_submit_may_ask(
    make_api: MakeApi, postgres_url: str
) -> None:
    tenant = f"budgets-{uuid.uuid4().hex[:8]}"
    api = await make_api(tenant=tenant)

    def asking(calls: int) -> dict[str, object]:
        return {"agent": "assistant", "input": "hi", "budgets": {"max_model_calls": calls}}

    code, out = await agentry(postgres_url, "tenant-budgets", tenant, "max_model_calls=5")
    assert code == 0 and "max_model_calls <= 5" in out, out
    refused = await api.post("/v1/tasks", json=asking(6))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert (problem["budget"], problem["requested"], problem["limit"]) == ("max_model_calls", 6, 5)

    accepted = await api.post("/v1/tasks", json=asking(5))
    assert accepted.status_code == 201, accepted.text
    budgets = accepted.json()["budgets"]
    agents = (await api.get("/v1/agents")).json()["items"]
    assistant = next(agent for agent in agents if agent["name"] == "assistant")
    # what the submit did not ask for is the agent's own
    assert budgets["max_model_calls"] == 5
    assert budgets["deadline_seconds"] == assistant["budgets"]["deadline_seconds"]

    default = await api.post("/v1/tasks", json={"agent": "assistant", "input": "hi"})
    assert default.json()["budgets"]["max_model_calls"] == 5  # no agent default above it

    assert (await agentry(postgres_url, "tenant-budgets", tenant, "default"))[0] == 0
    assert (await api.post("/v1/tasks", json=asking(6))).status_code == 201
    code, out = await agentry(postgres_url, "tenant-budgets", tenant, "max_calls=5")
    assert code == 2 and "expected NAME=N" in out


async def test_a_budget_that_is_not_a_positive_integer_is_a_clear_422(make_api: MakeApi) -> None:
    api = await make_api()
    for wrong in ({"max_model_calls": 0}, {"max_tokens": "many"}, {"tokens": 5}):
        response = await api.post(
            "/v1/tasks", json={"agent": "assistant", "input": "hi", "budgets": wrong}
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "budgets" in response.text
