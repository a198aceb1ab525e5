"""Outages of Postgres and Temporal, each SIGKILLed mid-task and started again on the same data,
on a small stack of the module's own (tests/integration/outage_stack.py) so that nothing else
sees them; and the session stack's LiteLLM proxy down for 10 s.

What each test shows: the tasks complete; none is lost; no model reply is bought twice (the
scripted model counts every request it gets) and no tool call that was made is made again
(its one recorded event is its first attempt's), not even when the worker holding a reply or a
tool result that Postgres could not take is killed during the outage; the gateway answers 503
with Retry-After meanwhile and recovers by itself.

The database outage lasts AGENTRY_TEST_DB_OUTAGE_SECONDS (45 by default: longer than the ~31 s
over which a model call's attempts used to give up, each buying the reply again); with 180 it
is the three-minute outage of docs/BENCHMARKS.md (`-o log_cli=true --log-cli-level=INFO` shows
how long the tasks took to catch up).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from services.devstack.processes import wait_until
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.fault_helpers import fault_workers
from tests.integration.helpers import events, served_at_least, submit, wait_for_status
from tests.integration.outage_stack import (
    AGENT,
    CHAT_AGENT,
    kept,
    kept_in_temporal,
    kill_postgres,
    outage_workers,
    pending,
    restart_postgres,
    restart_temporal,
    sigkill,
    start_outage_stack,
    start_worker,
)
from tests.stack import RunningStack
from workflows.contracts.lifecycle import DATABASE_UNREACHABLE

logger = logging.getLogger(__name__)

DB_OUTAGE_SECONDS = float(os.environ.get("AGENTRY_TEST_DB_OUTAGE_SECONDS", "45"))
FAULTS_AGENT = "scripted-faults"  # the session stack's, for the LiteLLM test


@pytest.fixture(scope="module")
async def small(
    stack: RunningStack, stack_dirs: Callable[[str], Path]
) -> AsyncIterator[RunningStack]:
    running = await start_outage_stack(stack, stack_dirs("outage-stack"))
    try:
        yield running
    finally:
        await running.stack.stop()


async def test_a_database_outage_fails_no_task_buys_no_reply_twice_and_repeats_no_tool_call(
    small: RunningStack, tmp_path: Path
) -> None:
    scripted = small.scripted
    chat_key, wait_key, paid_key = (unique_key(p) for p in ("db-chat", "db-wait", "db-paid"))
    chat = await scripted.script(chat_key, [reply_text("hello")])
    wait = await scripted.script(
        wait_key, [reply_tool_calls([("wait", {"seconds": 5})]), reply_text("waited")]
    )
    paid = await scripted.script(
        paid_key,
        [
            reply_tool_calls(
                [("write_file", {"path": "drafts/a.txt", "content": "42"})], delay_s=3
            ),
            reply_text("written"),
        ],
    )
    client = await connect_temporal(small.settings)
    gateway = small.stack.children["gateway"]
    gateway_pid = gateway.pid
    async with (
        outage_workers(small, tmp_path, "worker-a") as [worker_a],
        small.api() as api,
        httpx.AsyncClient(base_url=small.info.gateway_url) as anonymous,
    ):
        # a conversation waits for its next message; its idle timeout (8 s) ends it mid-outage
        chat_task = await submit(api, CHAT_AGENT, f"hi {chat}")
        await wait_for_status(api, chat_task["id"], {"waiting_input"})
        # a tool call runs (5 s) and a model reply is on its way (3 s) when Postgres goes
        wait_task = await submit(api, AGENT, f"wait {wait}")
        await pending(client, wait_task["id"], "run_tool")
        paid_task = await submit(api, AGENT, f"write {paid}")
        await served_at_least(small, paid_key, 1)
        went_down = time.monotonic()
        await kill_postgres(small)

        during = await api.get(f"/v1/tasks/{paid_task['id']}")
        ready_during = await anonymous.get("/readyz")
        metrics_during = await anonymous.get("/metrics")  # loopback: no token needed
        worker_b = await start_worker(small, tmp_path, "worker-b")
        try:
            # the reply and the tool's result are made, Postgres cannot take them: each is
            # kept in Temporal, and the worker holding them dies
            reply_kept = kept(await kept_in_temporal(client, paid_task["id"], "model_turn"))
            result_kept = kept(await kept_in_temporal(client, wait_task["id"], "run_tool"))
            await sigkill(worker_a)
            # meanwhile the conversation's end is being recorded, attempt after attempt
            ending = await pending(
                client, chat_task["id"], "finish_task", min_attempt=2, running=False
            )
            # worker B takes the kept reply and result up, and waits for Postgres too
            model_retry = await pending(client, paid_task["id"], "model_turn", min_attempt=2)
            tool_retry = await pending(client, wait_task["id"], "run_tool", min_attempt=2)
            await asyncio.sleep(max(0.0, DB_OUTAGE_SECONDS - (time.monotonic() - went_down)))
            await restart_postgres(small)
            back = time.monotonic()
            outage = back - went_down

            paid_done = await wait_for_status(api, paid_task["id"], timeout=120)
            wait_done = await wait_for_status(api, wait_task["id"], timeout=120)
            chat_done = await wait_for_status(api, chat_task["id"], timeout=120)
            caught_up = time.monotonic() - back
            logger.info(
                "Postgres down %.1f s; every task final %.1f s after it answered again",
                outage, caught_up,
            )  # fmt: skip
            paid_log = await events(api, paid_task["id"])
            wait_log = await events(api, wait_task["id"])
            written = await api.get(f"/v1/tasks/{paid_task['id']}/files/drafts/a.txt")
            ready_after = await anonymous.get("/readyz")
            metrics_after = await anonymous.get("/metrics")
        finally:
            await worker_b.stop()

    assert outage >= DB_OUTAGE_SECONDS
    assert caught_up < 30  # retries are at most 10 s apart (policies.STORE_RETRY)
    # the gateway: 503 with Retry-After while Postgres is away, then itself again, unrestarted
    assert during.status_code == 503 and during.headers["retry-after"].isdigit(), during.text
    assert during.json()["type"].endswith("database-unavailable")
    assert ready_during.status_code == 503 and ready_during.json()["checks"]["postgres"] != "ok"
    assert ready_after.status_code == 200 and gateway.pid == gateway_pid and gateway.running()
    # its metrics stay a 200, saying their Postgres figures are missing, then current again
    assert metrics_during.status_code == 200, metrics_during.text
    assert "\nagentry_metrics_database_up 0.0\n" in metrics_during.text
    assert "agentry_live_tasks{" not in metrics_during.text
    assert "\nagentry_metrics_database_up 1.0\n" in metrics_after.text
    # what was kept, and who took it up
    assert reply_kept is not None and reply_kept["kept_step"] == "model:0"
    assert result_kept is not None and result_kept["kept_step"].startswith("tool:0:")
    assert ending.attempt >= 2 and model_retry.attempt >= 2 and tool_retry.attempt >= 2
    # each failed attempt is one typed sentence in Temporal, not SQL with its parameters
    assert ending.last_failure.application_failure_info.type == DATABASE_UNREACHABLE
    assert ending.last_failure.message == "the database is unreachable"
    # every task completed; each reply bought once, each tool call made once
    assert paid_done["status"] == "succeeded" and paid_done["result"] == "written", paid_done
    assert wait_done["status"] == "succeeded" and wait_done["result"] == "waited", wait_done
    assert chat_done["status"] == "succeeded" and chat_done["result"] == "hello", chat_done
    for key, calls in ((paid_key, 2), (wait_key, 2), (chat_key, 1)):
        assert len(await scripted.requests(key)) == calls, key
    assert paid_done["usage"]["llm_calls"] == 2 and paid_done["usage"]["tool_calls"] == 1
    assert wait_done["usage"]["llm_calls"] == 2 and wait_done["usage"]["tool_calls"] == 1
    [waited] = [e["data"] for e in wait_log if e["type"] == "tool_call"]
    # the first attempt's whole wait (asyncio's timer may end it a millisecond early)
    assert waited["attempt"] == 1 and waited["duration_ms"] >= 4900
    [wrote] = [e["data"] for e in paid_log if e["type"] == "tool_call"]
    assert wrote["attempt"] == 1 and written.status_code == 200 and written.content == b"42"


async def test_temporal_killed_and_restarted_on_its_data_keeps_the_task(
    small: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("temporal-restart")
    marker = await small.scripted.script(
        key,
        [
            reply_tool_calls([("write_file", {"path": "drafts/t.txt", "content": "4"})], delay_s=2),
            reply_text("four"),
        ],
    )
    temporal = small.stack.children["temporal"]
    async with outage_workers(small, tmp_path, "worker-c"), small.api() as api:
        task = await submit(api, AGENT, f"add {marker}")
        await served_at_least(small, key, 1)  # the model call is in flight
        await sigkill(temporal)
        went_down = time.monotonic()
        refused = await api.post("/v1/tasks", json={"agent": AGENT, "input": "while down"})
        answered = time.monotonic() - went_down
        await asyncio.sleep(3)
        await restart_temporal(small)
        back = time.monotonic()
        done = await wait_for_status(api, task["id"], timeout=120)
        logger.info(
            "Temporal down %.1f s (a submit meanwhile answered 503 in %.1f s); the task final "
            "%.1f s after it answered again", back - went_down, answered, time.monotonic() - back,
        )  # fmt: skip
        log = await events(api, task["id"])

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"].isdigit()
    assert done["status"] == "succeeded" and done["result"] == "four", done
    assert len(await small.scripted.requests(key)) == 2
    [wrote] = [e["data"] for e in log if e["type"] == "tool_call"]
    assert wrote["attempt"] == 1 and done["usage"]["tool_calls"] == 1


async def test_litellm_down_for_ten_seconds_delays_the_task_only(
    stack: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("litellm-down")
    marker = await stack.scripted.script(key, [reply_text("still here")])
    litellm = stack.stack.children["litellm"]
    async with fault_workers(stack, tmp_path, count=1), stack.api() as api:
        await sigkill(litellm)
        task = await submit(api, FAULTS_AGENT, f"hello {marker}")
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
