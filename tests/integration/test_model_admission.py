"""Admission by model capacity on the whole stack: the worker reads the scripted server's
/metrics for the model `scripted-admission` (tests/stack.py); while that model reports a long
queue its low-priority calls wait before reaching the server, high-priority ones go through,
and the held calls go once the load drops. Only that model's load is raised, so the other
tests' calls (model `scripted`) are never held."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.fakes.script_client import reply_text, unique_key
from tests.integration.helpers import events, submit, wait_for_status
from tests.stack import RunningStack

MODEL = "scripted-admission"  # the agent of the same name calls it
QUEUED = 50  # far above the default queue limit (8)


@pytest.fixture
async def saturated(stack: RunningStack) -> AsyncIterator[None]:
    """The model reports a long queue until the test ends, however it ends."""
    await stack.scripted.set_load(queued=QUEUED, model=MODEL)
    try:
        await worker_read_metrics(stack)
        yield
    finally:
        await stack.scripted.set_load(model=MODEL)


async def worker_read_metrics(stack: RunningStack) -> None:
    """Return once the worker has read the model's metrics twice: one full poll since now."""
    target = await stack.scripted.metrics_reads(MODEL) + 2
    deadline = time.monotonic() + 20
    while await stack.scripted.metrics_reads(MODEL) < target:
        assert time.monotonic() < deadline, "the worker does not read the model's metrics"
        await asyncio.sleep(0.1)


async def test_a_saturated_model_holds_calls_until_its_load_drops(
    stack: RunningStack, saturated: None
) -> None:
    key = unique_key("held")
    marker = await stack.scripted.script(key, [reply_text("done after the hold")])
    async with stack.api() as api:
        task = await submit(api, MODEL, f"hello {marker}")  # priority 3: below the bypass
        await asyncio.sleep(3)
        assert (await stack.scripted.status(key))["served"] == 0
        assert (await api.get(f"/v1/tasks/{task['id']}")).json()["status"] == "running"

        await stack.scripted.set_load(model=MODEL)
        done = await wait_for_status(api, task["id"], timeout=30)
        log = await events(api, task["id"])
    assert done["status"] == "succeeded", done
    assert done["result"] == "done after the hold"
    kinds = [e["type"] for e in log]
    assert kinds.index("model_call_held") == kinds.index("llm_call") - 1
    [held] = [e["data"] for e in log if e["type"] == "model_call_held"]
    assert held["cause"] == "queue" and held["queued"] == QUEUED and held["queue_limit"] == 8
    assert held["model"] == MODEL and held["priority"] == 3 and held["iteration"] == 0
    assert held["held_ms"] >= 1000 and held["admitted_after_timeout"] is False


async def test_high_priority_calls_go_through_a_saturated_model_while_low_ones_wait(
    stack: RunningStack, saturated: None
) -> None:
    low_key, high_key = unique_key("low"), unique_key("high")
    low_marker = await stack.scripted.script(low_key, [reply_text("low done")])
    high_marker = await stack.scripted.script(high_key, [reply_text("high done")])
    async with stack.api() as api:
        low = await submit(api, MODEL, f"low {low_marker}", priority=5)
        high = await submit(api, MODEL, f"high {high_marker}", priority=1)

        high_done = await wait_for_status(api, high["id"], timeout=30)
        assert high_done["status"] == "succeeded" and high_done["result"] == "high done"
        # the low task's call has not reached the model server
        assert (await stack.scripted.status(low_key))["served"] == 0
        assert (await api.get(f"/v1/tasks/{low['id']}")).json()["status"] == "running"

        await stack.scripted.set_load(model=MODEL)
        low_done = await wait_for_status(api, low["id"], timeout=30)
        low_log = await events(api, low["id"])
        high_log = await events(api, high["id"])
    assert low_done["status"] == "succeeded" and low_done["result"] == "low done"
    [held] = [e["data"] for e in low_log if e["type"] == "model_call_held"]
    assert held["priority"] == 5 and held["cause"] == "queue" and held["queued"] == QUEUED
    assert "model_call_held" not in [e["type"] for e in high_log]
