"""A tenant's monthly spend limit: model calls reserve their worst case before they start and
settle at what they cost, so racing calls never promise more than the limit; over it, submits
answer 402 and running tasks stop at their next model call with `error.code = spend_limit`."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.models import Task
from activities.db.spend import SpendRepository, current_month
from activities.db.tasks import NewTask, TaskRepository
from activities.db.tenants import TenantRepository
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import events, submit, until_event, wait_for_status
from tests.integration.test_task_budgets_api import agentry
from tests.stack import RunningStack
from workflows.contracts.tasks import TaskStatus

Sessions = async_sessionmaker[AsyncSession]


async def tenant_with_tasks(sessions: Sessions, limit: str | None, tasks: int) -> list[uuid.UUID]:
    """`tasks` task rows of a new tenant whose monthly limit is `limit` dollars."""
    name = f"spend-{uuid.uuid4().hex[:8]}"
    async with sessions.begin() as session:
        tenant = await TenantRepository(session).get_or_create(name)
        await SpendRepository(session).set_limit(name, None if limit is None else Decimal(limit))
        ids = [uuid.uuid4() for _ in range(tasks)]
        for task_id in ids:
            await TaskRepository(session).create(
                NewTask(tenant_id=tenant.id, agent="a", input="x", metadata={},
                        workflow_id=f"task-{task_id}", id=task_id)
            )  # fmt: skip
    return ids


async def month_of_task(sessions: Sessions, task_id: uuid.UUID) -> tuple[Decimal, Decimal]:
    async with sessions() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        spend = await SpendRepository(session).month(task.tenant_id, current_month())
    return spend.spent_usd, spend.reserved_usd


async def reserve(sessions: Sessions, task_id: uuid.UUID, step: str, usd: str) -> bool:
    async with sessions.begin() as session:
        refusal = await SpendRepository(session).reserve(
            task_id, step, Decimal(usd), current_month()
        )
    return refusal is None


async def settle(sessions: Sessions, task_id: uuid.UUID, step: str, usd: float) -> None:
    async with sessions.begin() as session:
        await SpendRepository(session).settle(task_id, step, usd, current_month())


async def test_racing_reservations_never_promise_more_than_the_limit(db_sessions: Sessions) -> None:
    tasks = await tenant_with_tasks(db_sessions, "10", 40)
    taken = await asyncio.gather(*(reserve(db_sessions, t, "model:0", "1") for t in tasks))
    assert sum(taken) == 10
    assert await month_of_task(db_sessions, tasks[0]) == (Decimal(0), Decimal(10))

    winners = [task for task, won in zip(tasks, taken, strict=True) if won]
    for task in winners[:5]:  # five calls cost half their worst case
        await settle(db_sessions, task, "model:0", 0.5)
    assert await month_of_task(db_sessions, tasks[0]) == (Decimal("2.5"), Decimal(5))

    losers = [task for task, won in zip(tasks, taken, strict=True) if not won]
    again = await asyncio.gather(*(reserve(db_sessions, t, "model:0", "1") for t in losers))
    assert sum(again) == 2  # 10 - 2.5 spent - 5 reserved leaves room for two
    assert await month_of_task(db_sessions, tasks[0]) == (Decimal("2.5"), Decimal(7))


async def test_a_retried_step_keeps_its_reservation_and_a_finished_task_gives_it_back(
    db_sessions: Sessions,
) -> None:
    [task] = await tenant_with_tasks(db_sessions, "5", 1)
    assert await reserve(db_sessions, task, "model:0", "2")
    assert await reserve(db_sessions, task, "model:0", "2")  # the retry takes it over
    assert await month_of_task(db_sessions, task) == (Decimal(0), Decimal(2))
    assert await reserve(db_sessions, task, "model:1", "3")
    assert not await reserve(db_sessions, task, "model:2", "0.01")
    async with db_sessions.begin() as session:
        await SpendRepository(session).release(task, "model:1")
    assert await month_of_task(db_sessions, task) == (Decimal(0), Decimal(2))
    async with db_sessions.begin() as session:  # the task ends holding a reservation
        row = await session.get(Task, task)
        assert row is not None
        await TaskRepository(session).finish(
            row, TaskStatus.failed, output=None, error="x", error_code="x"
        )
    assert await month_of_task(db_sessions, task) == (Decimal(0), Decimal(0))


async def test_a_tenant_without_a_limit_still_has_its_month_counted(db_sessions: Sessions) -> None:
    [task] = await tenant_with_tasks(db_sessions, None, 1)
    assert await reserve(db_sessions, task, "model:0", "1000000")
    await settle(db_sessions, task, "model:0", 0.25)
    assert await month_of_task(db_sessions, task) == (Decimal("0.25"), Decimal(0))


async def spend(api: httpx.AsyncClient) -> dict[str, Any]:
    answer = await api.get("/v1/spend")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def set_limit(api: httpx.AsyncClient, tenant: str, usd: float | None) -> httpx.Response:
    return await api.put("/v1/spend/limit", json={"tenant": tenant, "monthly_limit_usd": usd})


async def test_tasks_racing_for_the_last_dollars_stop_at_the_limit(stack: RunningStack) -> None:
    """Each call's worst case is about $0.007 (max_tokens 512 at $8/M, the prompt at $2/M) and
    its reply costs about $0.004, so $0.03 pays for a handful of the twelve tasks' calls."""
    tenant = f"spend-race-{uuid.uuid4().hex[:6]}"
    key = await stack.create_key("admin", "spend", tenant=tenant)
    operator = await stack.create_key("platform-operator", "spend-ops", tenant="platform")
    async with stack.api(operator) as ops:
        limited = await ops.put(
            "/v1/spend/limit", json={"tenant": tenant, "monthly_limit_usd": 0.03}
        )
        assert limited.status_code == 200, limited.text
    scripts = [
        await stack.scripted.script(
            unique_key("spend-race"), [reply_text("done", delay_s=0.5, completion_tokens=480)]
        )
        for _ in range(12)
    ]
    async with stack.api(key) as api:
        submitted = await asyncio.gather(*(submit(api, "scripted-native", s) for s in scripts))
        seen: list[dict[str, Any]] = []
        waits = [asyncio.create_task(wait_for_status(api, t["id"])) for t in submitted]
        while not all(wait.done() for wait in waits):
            seen.append(await spend(api))
            await asyncio.sleep(0.05)
        finished = [wait.result() for wait in waits]
        after = await spend(api)
        stopped = [task for task in finished if task["status"] == "failed"]
        stop_events = [await events(api, task["id"]) for task in stopped]

    succeeded = [task for task in finished if task["status"] == "succeeded"]
    assert succeeded and stopped, [task["status"] for task in finished]
    assert all(task["error"]["code"] == "spend_limit" for task in stopped)
    assert all(task["usage"]["llm_calls"] == 0 for task in stopped)  # refused before the call
    for task_events in stop_events:
        assert task_events[-1]["data"]["details"]["limit_usd"] == 0.03
    assert all(row["spent_usd"] + row["reserved_usd"] <= 0.03 + 1e-9 for row in seen)
    spent = sum(task["usage"]["cost_usd"] for task in finished)
    assert abs(after["spent_usd"] - spent) < 1e-7 and after["reserved_usd"] == 0
    assert spent <= 0.03


async def test_over_the_limit_submits_answer_402_and_a_running_task_stops_at_its_next_call(
    stack: RunningStack,
) -> None:
    tenant = f"spend-stop-{uuid.uuid4().hex[:6]}"
    key = await stack.create_key("admin", "spend", tenant=tenant)
    operator = await stack.create_key("platform-operator", "spend-ops", tenant="platform")
    key_of_script = unique_key("spend-stop")
    script = await stack.scripted.script(
        key_of_script, [reply_tool_calls([("wait", {"seconds": 5})]), reply_text("never")]
    )
    async with stack.api(key) as api, stack.api(operator) as ops:
        task = await submit(api, "scripted-native", script)
        await until_event(api, task["id"], "llm_call")  # the first call is settled
        lowered = await ops.put(
            "/v1/spend/limit", json={"tenant": tenant, "monthly_limit_usd": 1e-6}
        )
        assert lowered.status_code == 200 and lowered.json()["remaining_usd"] == 0
        refused = await api.post("/v1/tasks", json={"agent": "scripted-native", "input": "x"})
        ended = await wait_for_status(api, task["id"])
        theirs = await ops.get("/v1/spend", params={"tenant": tenant})
        not_theirs = await api.get("/v1/spend", params={"tenant": "platform"})
        by_tenant = await api.put(
            "/v1/spend/limit", json={"tenant": tenant, "monthly_limit_usd": 5}
        )
        await ops.put("/v1/spend/limit", json={"tenant": tenant, "monthly_limit_usd": None})
        again = await api.post("/v1/tasks", json={"agent": "scripted-native", "input": "x"})

    assert refused.status_code == 402, refused.text
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert problem["type"].endswith("spend-limit-reached") and problem["spent_usd"] > 0
    assert ended["status"] == "failed" and ended["error"]["code"] == "spend_limit"
    assert "spend limit" in ended["error"]["message"]
    assert ended["usage"]["llm_calls"] == 1 and ended["usage"]["tool_calls"] == 1
    assert (await stack.scripted.status(key_of_script))["served"] == 1  # the second call never went
    assert theirs.status_code == 200 and theirs.json()["tenant"] == tenant
    assert not_theirs.status_code == 403 and by_tenant.status_code == 403
    assert again.status_code == 201, again.text


async def test_the_cli_sets_and_clears_a_tenants_limit(
    postgres_url: str, db_sessions: Sessions
) -> None:
    [task] = await tenant_with_tasks(db_sessions, None, 1)
    async with db_sessions() as session:
        found = await session.get(Task, task)
        assert found is not None
        tenant = await TenantRepository(session).name_of(found.tenant_id)

    async def limit_now() -> Decimal | None:
        async with db_sessions() as session:
            tenant_id = (await TenantRepository(session).find(tenant)).id  # type: ignore[union-attr]
            return (await SpendRepository(session).month(tenant_id, current_month())).limit_usd

    code, out = await agentry(postgres_url, "tenant-spend-limit", tenant, "$12.50")
    assert code == 0 and "at most $12.50 a month" in out, out
    assert await limit_now() == Decimal("12.5")
    for bad in ("0", "-3", "nan", "inf", "lots"):
        code, out = await agentry(postgres_url, "tenant-spend-limit", tenant, bad)
        assert code == 2 and "expected US dollars" in out, (bad, out)
    assert await limit_now() == Decimal("12.5")
    code, out = await agentry(postgres_url, "tenant-spend-limit", "no-such-tenant", "5")
    assert code == 2 and "no tenant named" in out
    assert (await agentry(postgres_url, "tenant-spend-limit", tenant, "none"))[0] == 0
    assert await limit_now() is None
