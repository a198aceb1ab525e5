"""Outages of the session stack's own Postgres, Temporal and LiteLLM, each SIGKILLed mid-task
and started again on the same data: the task completes, no reply is bought twice, and the
gateway answers 503 with Retry-After meanwhile and recovers by itself.

These tests stop shared processes, so they rely on the suite running one test at a time (as
`make test` does). The database outage lasts AGENTRY_TEST_DB_OUTAGE_SECONDS (45 by default,
longer than the old retry window of the model call, ~31 s); `python -m bench db-outage` runs
the three-minute one and records it in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx

from services.devstack.postgres import postgres_ready
from services.devstack.processes import Child, wait_until
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.fault_helpers import AGENT, fault_workers
from tests.integration.helpers import served_at_least, submit, wait_for_status
from tests.stack import RunningStack

DB_OUTAGE_SECONDS = float(os.environ.get("AGENTRY_TEST_DB_OUTAGE_SECONDS", "45"))


async def killed(child: Child) -> None:
    assert child.process is not None
    child.process.kill()
    await child.process.wait()


async def database_outage(stack: RunningStack, seconds: float, during: httpx.AsyncClient,
                          path: str) -> httpx.Response:  # fmt: skip
    """Postgres down for `seconds`, then back on its data; what `path` answered meanwhile."""
    postgres = stack.stack.children["postgres"]
    await killed(postgres)
    answer = await during.get(path)
    await asyncio.sleep(seconds)
    await postgres.start()
    port = stack.settings.embedded_postgres_port
    await wait_until(lambda: postgres_ready(port), "postgres", 60, postgres)
    return answer


async def test_a_database_outage_fails_no_task_and_buys_no_reply_twice(
    stack: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("db-outage")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls([("calculator", {"expression": "6*7"})], delay_s=2),
            reply_text("42"),
        ],
    )
    async with fault_workers(stack, tmp_path, count=1), stack.api() as api:
        task = await submit(api, AGENT, f"compute {marker}")
        await served_at_least(stack, key, 1)  # the reply is on its way when Postgres goes
        during = await database_outage(stack, DB_OUTAGE_SECONDS, api, f"/v1/tasks/{task['id']}")
        done = await wait_for_status(api, task["id"], timeout=180)

    assert during.status_code == 503
    assert during.headers["retry-after"].isdigit()
    assert during.json()["type"].endswith("database-unavailable")
    assert done["status"] == "succeeded" and done["result"] == "42", done
    assert (await stack.scripted.status(key))["served"] == 2  # each reply bought once
    assert done["usage"]["llm_calls"] == 2 and done["usage"]["tool_calls"] == 1


async def test_temporal_killed_and_restarted_midway_keeps_the_task(
    stack: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("temporal-restart")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls([("calculator", {"expression": "2+2"})], delay_s=2),
            reply_text("four"),
        ],
    )
    temporal = stack.stack.children["temporal"]
    async with fault_workers(stack, tmp_path, count=1), stack.api() as api:
        task = await submit(api, AGENT, f"add {marker}")
        await served_at_least(stack, key, 1)
        await killed(temporal)
        refused = await api.post("/v1/tasks", json={"agent": AGENT, "input": "while down"})
        await asyncio.sleep(3)
        await temporal.start()

        async def answers() -> bool:
            await connect_temporal(stack.settings)
            return True

        await wait_until(answers, "temporal", 60, temporal)
        done = await wait_for_status(api, task["id"], timeout=120)

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"].isdigit()
    assert done["status"] == "succeeded" and done["result"] == "four", done
    assert done["usage"]["tool_calls"] == 1


async def test_litellm_down_for_ten_seconds_delays_the_task_only(
    stack: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("litellm-down")
    marker = await stack.scripted.script(key, [reply_text("still here")])
    litellm = stack.stack.children["litellm"]
    async with fault_workers(stack, tmp_path, count=1), stack.api() as api:
        await killed(litellm)
        task = await submit(api, AGENT, f"hello {marker}")
        await asyncio.sleep(10)
        await litellm.start()

        async def alive() -> bool:
            async with httpx.AsyncClient(timeout=2) as http:
                health = await http.get(f"{stack.settings.litellm_url}/health/liveliness")
                return health.status_code == 200

        await wait_until(alive, "litellm", 120, litellm)
        done = await wait_for_status(api, task["id"], timeout=180)

    assert done["status"] == "succeeded" and done["result"] == "still here", done
    assert (await stack.scripted.status(key))["served"] == 1
