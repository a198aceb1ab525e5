"""The worker of the overhead baseline (bench/overhead_workflow.py), in a process of its own as
Agentry's workers are, so its CPU and memory are read from /proc like theirs. It runs on
uvloop with the pydantic data converter and Temporal's default sandbox, with the concurrency
limits of the Agentry pool it is compared with."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvloop
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.overhead_workflow import (
    OverheadBaselineWorkflow,
    baseline_model_call,
    baseline_tool_call,
)

WORKER_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class WorkerLimits:
    workflow_tasks: int
    activities: int


@contextmanager
def baseline_worker(target: str, namespace: str, queue: str, limits: WorkerLimits) -> Iterator[int]:
    """A worker for `queue` in a spawned process while the block runs; yields its pid."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    process = context.Process(
        target=_worker_main,
        args=(target, namespace, queue, limits, ready, stop),
        name="bench-overhead-worker",
        daemon=True,  # ended with this process, whatever happens to it
    )
    process.start()
    try:
        if not ready.wait(WORKER_START_TIMEOUT) or process.pid is None:
            raise RuntimeError("the baseline worker did not start")
        yield process.pid
    finally:
        stop.set()
        process.join(WORKER_START_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()


def _worker_main(
    target: str, namespace: str, queue: str, limits: WorkerLimits, ready: Any, stop: Any
) -> None:
    uvloop.run(_serve(target, namespace, queue, limits, ready, stop))


async def _serve(
    target: str, namespace: str, queue: str, limits: WorkerLimits, ready: Any, stop: Any
) -> None:
    client = await Client.connect(
        target, namespace=namespace, data_converter=pydantic_data_converter
    )
    async with Worker(
        client,
        task_queue=queue,
        workflows=[OverheadBaselineWorkflow],
        activities=[baseline_model_call, baseline_tool_call],
        max_concurrent_workflow_tasks=limits.workflow_tasks,
        max_concurrent_activities=limits.activities,
    ):
        ready.set()
        await asyncio.to_thread(stop.wait)
