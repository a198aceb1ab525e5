"""The worker of bench/signal_floor.py, in a process of its own as in the stack: the harness
only sends signals and reads histories, so the two do not share one interpreter lock."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvloop
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.floor_workflow import SignalFloorWorkflow, floor_echo

WORKER_START_TIMEOUT = 30.0


@contextmanager
def worker_process(client: Client, queue: str, sandboxed: bool) -> Iterator[None]:
    """A worker for `queue` (sandboxed or not) in a spawned process while the block runs."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    target = client.service_client.config.target_host
    process = context.Process(
        target=_worker_main,
        args=(target, client.namespace, queue, sandboxed, ready, stop),
        name="bench-floor-worker",
    )
    process.start()
    try:
        if not ready.wait(WORKER_START_TIMEOUT):
            raise RuntimeError("the floor worker did not start")
        yield
    finally:
        stop.set()
        process.join(WORKER_START_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()


def _worker_main(
    target: str, namespace: str, queue: str, sandboxed: bool, ready: Any, stop: Any
) -> None:
    uvloop.run(_serve(target, namespace, queue, sandboxed, ready, stop))  # as the stack's worker


async def _serve(
    target: str, namespace: str, queue: str, sandboxed: bool, ready: Any, stop: Any
) -> None:
    client = await Client.connect(
        target, namespace=namespace, data_converter=pydantic_data_converter
    )
    runner: dict[str, Any] = {} if sandboxed else {"workflow_runner": UnsandboxedWorkflowRunner()}
    async with Worker(
        client,
        task_queue=queue,
        workflows=[SignalFloorWorkflow],
        activities=[floor_echo],
        **runner,
    ):
        ready.set()
        await asyncio.to_thread(stop.wait)
