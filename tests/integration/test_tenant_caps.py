"""Per-tenant caps on running tasks, on the real gateway, workflow, Postgres and Temporal (the
model is held and released by the test: tests/integration/scheduling_helpers.py).

Reject mode refuses a submit over the cap with 429 and Retry-After; queue mode accepts it and
the task waits, durably, for a slot, so a tenant's flood never runs more than its cap at once
and another tenant's task runs beside it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.client import Client

from activities.db.models import Tenant
from activities.db.tenant_caps import TenantCapRepository
from services.key_service import create_api_key
from services.settings import Settings
from tests.integration.scheduling_helpers import (
    HeldModel,
    Sessions,
    scheduling_gateway,
    submit,
    submitted,
    task_rows,
    until,
)
from tests.integration.test_tasks_api import assert_problem


async def set_cap(sessions: Sessions, tenant: str, cap: int) -> None:
    async with sessions.begin() as session:
        assert await TenantCapRepository(session).set_cap(tenant, cap)


async def statuses(sessions: Sessions, task_ids: list[str]) -> dict[str, str]:
    return {str(row.id): row.status for row in await task_rows(sessions, task_ids)}


async def admission_log(api: httpx.AsyncClient, task_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/tasks/{task_id}/events")
    assert response.status_code == 200, response.text
    return [event["data"] for event in response.json()["items"] if event["type"] == "admission"]


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    """The largest number of (start, end) spans open at one moment; an end at the same moment
    as a start comes first."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    open_now = most = 0
    for _, step in edges:
        open_now += step
        most = max(most, open_now)
    return most


async def test_in_reject_mode_a_submit_over_the_cap_gets_429_until_a_task_finishes(
    tmp_path: Path, gateway_settings: Settings, db_sessions: Sessions, temporal_client: Client
) -> None:
    async with scheduling_gateway(
        tmp_path,
        gateway_settings,
        db_sessions,
        temporal_client,
        tenant_over_cap="reject",
        tenant_max_concurrent_tasks=2,
        tenant_cap_retry_after_seconds=7,
    ) as gw:
        model = HeldModel()
        async with await gw.api() as api, gw.worker(model):
            first = await submitted(api)
            second = await submitted(api, key="second")

            refused = await submit(api, input="one too many")

            body = assert_problem(refused, 429, "2 tasks queued or running")
            assert refused.headers["retry-after"] == "7"
            assert body["cap"] == 2 and body["running"] + body["queued"] == 2
            listed = (await api.get("/v1/tasks")).json()["items"]
            assert sorted(task["id"] for task in listed) == sorted([first, second])
            # a retry of an accepted submit is answered, never refused
            retry = await submit(api, key="second")
            assert retry.status_code == 200 and retry.json()["id"] == second

            await until(lambda: first in model.turns_started, "the first task is running")
            model.release(first)
            await until(
                lambda: _status_is(db_sessions, first, "succeeded"), "the first task finished"
            )

            third = await submitted(api)  # a slot is free again

            model.release(second, third)
            await until(
                lambda: _all_status(db_sessions, [second, third], "succeeded"),
                "the others finished",
            )


async def test_in_reject_mode_racing_submits_never_exceed_the_cap(
    tmp_path: Path, gateway_settings: Settings, db_sessions: Sessions, temporal_client: Client
) -> None:
    async with scheduling_gateway(
        tmp_path,
        gateway_settings,
        db_sessions,
        temporal_client,
        tenant_over_cap="reject",
        tenant_max_concurrent_tasks=2,
    ) as gw:
        async with await gw.api() as api:
            answers = await asyncio.gather(*(submit(api) for _ in range(6)))

    assert sorted(answer.status_code for answer in answers) == [201, 201, 429, 429, 429, 429]


async def test_in_queue_mode_a_flood_runs_within_its_cap_and_another_tenant_is_not_held_up(
    tmp_path: Path, gateway_settings: Settings, db_sessions: Sessions, temporal_client: Client
) -> None:
    async with scheduling_gateway(
        tmp_path,
        gateway_settings,
        db_sessions,
        temporal_client,
        tenant_over_cap="queue",
        tenant_admission_poll_seconds=0.2,
    ) as gw:
        flooding = f"flood-{tmp_path.name}"
        model = HeldModel()
        async with (
            await gw.api(tenant=flooding) as flood_api,
            await gw.api() as other_api,
            gw.worker(model),
        ):
            await set_cap(db_sessions, flooding, 2)  # the tenant's own cap over the default
            flood = [await submitted(flood_api) for _ in range(6)]

            async def two_run_four_wait() -> bool:
                now = await statuses(db_sessions, flood)
                running = [t for t in flood if now[t] == "running"]
                queued = [t for t in flood if now[t] == "queued"]
                waiting = [t for t in queued if await admission_log(flood_api, t)]
                return len(running) == 2 and len(waiting) == 4

            await until(two_run_four_wait, "two of the flood running, four waiting")

            # another tenant's task starts and finishes while the flood still waits
            other = await submitted(other_api)
            model.release(other)
            await until(lambda: _status_is(db_sessions, other, "succeeded"), "the other finished")
            now = await statuses(db_sessions, flood)
            assert sorted(now.values()) == ["queued"] * 4 + ["running"] * 2, now
            assert await admission_log(other_api, other) == []  # it never waited

            # a task waiting for a slot cancels cleanly
            waiting = [t for t in flood if now[t] == "queued"]
            cancelled = await flood_api.post(f"/v1/tasks/{waiting[0]}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["status"] == "cancelled"

            # let each task of the flood finish once it runs
            async def flood_done() -> bool:
                now = await statuses(db_sessions, flood)
                model.release(*(t for t in flood if now[t] == "running"))
                return all(status in ("succeeded", "cancelled") for status in now.values())

            await until(flood_done, "the flood finished", interval=0.1)

            # each task that waited says so in its events, and when it got its slot
            for task_id in waiting[1:]:
                log = await admission_log(flood_api, task_id)
                assert [entry["state"] for entry in log] == ["waiting", "admitted"], log
                # refused: the running tasks and those ahead in line took every slot (a task
                # may ask before the first two were admitted, so it can see running < 2)
                first = log[0]
                assert first["cap"] == 2 and first["running"] + first["ahead"] >= 2, log

    rows = {str(row.id): row for row in await task_rows(db_sessions, flood)}
    ran = [t for t in flood if t != waiting[0]]
    assert all(rows[t].status == "succeeded" for t in ran)
    assert rows[waiting[0]].status == "cancelled" and waiting[0] not in model.turns_started
    spans = []
    for t in ran:
        started, finished = rows[t].started_at, rows[t].finished_at
        assert started is not None and finished is not None
        spans.append((started, finished))
    assert most_at_once(spans) == 2  # never more than the cap ran at once


async def test_a_tenants_waiting_tasks_start_highest_priority_first(
    tmp_path: Path, gateway_settings: Settings, db_sessions: Sessions, temporal_client: Client
) -> None:
    async with scheduling_gateway(
        tmp_path,
        gateway_settings,
        db_sessions,
        temporal_client,
        tenant_max_concurrent_tasks=1,
        tenant_admission_poll_seconds=0.3,
    ) as gw:
        model = HeldModel()
        async with await gw.api() as api, gw.worker(model):
            first = await submitted(api)
            await until(lambda: first in model.turns_started, "the first task is running")
            low = await submitted(api, priority=5)
            high = await submitted(api, priority=1)
            middle = await submitted(api, priority=3)
            later = [low, high, middle]

            async def all_wait() -> bool:
                return all([await admission_log(api, t) for t in later])

            await until(all_wait, "the later tasks wait for the slot")
            model.release(first)

            async def release_as_they_run() -> bool:
                now = await statuses(db_sessions, later)
                model.release(*(t for t in later if now[t] == "running"))
                return all(status == "succeeded" for status in now.values())

            await until(release_as_they_run, "the later tasks finished", interval=0.1)

    assert [t for t in model.turns_started if t in later] == [high, middle, low]


async def test_agentry_tenant_cap_sets_and_clears_a_tenants_own_cap(
    postgres_url: str, db_sessions: Sessions
) -> None:
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    await create_api_key(db_sessions, tenant, role="admin")

    async def agentry(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli",
            *args,
            env={**os.environ, "AGENTRY_DATABASE_URL": postgres_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, out.decode()

    async def own_cap() -> int | None:
        async with db_sessions() as session:
            cap = await session.scalar(
                select(Tenant.max_concurrent_tasks).where(Tenant.name == tenant)
            )
            return cap

    assert (await agentry("tenant-cap", tenant, "3"))[0] == 0
    assert await own_cap() == 3
    assert (await agentry("tenant-cap", tenant, "default"))[0] == 0
    assert await own_cap() is None
    code, out = await agentry("tenant-cap", tenant, "0")
    assert code == 2 and "expected a number" in out
    code, out = await agentry("tenant-cap", f"missing-{tenant}", "3")
    assert code == 2 and "no tenant named" in out


async def _status_is(sessions: Sessions, task_id: str, status: str) -> bool:
    return (await statuses(sessions, [task_id]))[task_id] == status


async def _all_status(sessions: Sessions, task_ids: list[str], status: str) -> bool:
    return set((await statuses(sessions, task_ids)).values()) == {status}


async def test_in_queue_mode_a_tenants_queue_is_limited_and_others_still_submit(
    tmp_path: Path, gateway_settings: Settings, db_sessions: Sessions, temporal_client: Client
) -> None:
    """No worker runs here, so every accepted task stays queued: racing submits fill the queue
    to its limit exactly, the rest get 429, and another tenant's submit is accepted."""
    async with scheduling_gateway(
        tmp_path,
        gateway_settings,
        db_sessions,
        temporal_client,
        tenant_over_cap="queue",
        tenant_max_queued_tasks=3,
        tenant_cap_retry_after_seconds=9,
    ) as gw:
        async with await gw.api() as api, await gw.api() as other:
            answers = await asyncio.gather(*(submit(api, key=f"k{n}") for n in range(7)))
            refused = next(answer for answer in answers if answer.status_code == 429)
            accepted = next(n for n, answer in enumerate(answers) if answer.status_code == 201)
            retry = await submit(api, key=f"k{accepted}")
            elsewhere = await submit(other)

    assert sorted(answer.status_code for answer in answers) == [201] * 3 + [429] * 4
    body = assert_problem(refused, 429, "3 tasks queued (the limit is 3)")
    assert body["queued"] == 3 and body["limit"] == 3
    assert refused.headers["retry-after"] == "9"
    assert retry.status_code == 200  # a retry of an accepted submit is never refused
    assert elsewhere.status_code == 201
