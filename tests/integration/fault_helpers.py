"""Workers the fault tests start and kill, and reading which attempt of an activity runs where
(shared by tests/integration/test_faults.py and bench/worker_kill.py)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import WorkflowHandle

from services.devstack.processes import Child
from tests.integration.helpers import worker_process
from tests.stack import RunningStack

POOL = "faults"  # tests/pools.yaml: no worker but the ones these tests start
AGENT = "scripted-faults"


@contextlib.asynccontextmanager
async def fault_workers(
    stack: RunningStack, base: Path, count: int = 2, **env_overrides: str
) -> AsyncIterator[list[Child]]:
    """`count` workers of pool `faults`; `env_overrides`: AGENTRY_* settings of their own."""
    workers = [
        worker_process(stack, POOL, f"fault-worker-{n}", base, **env_overrides)
        for n in range(count)
    ]
    try:
        for worker in workers:
            await worker.start()
        yield workers
    finally:
        await asyncio.gather(*(worker.stop() for worker in workers))


async def started_attempt(
    handle: WorkflowHandle[object, object], activity: str, attempt: int, timeout: float = 60
) -> PendingActivityInfo:
    """The pending `activity` once its attempt number `attempt` (or a later one) has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = await handle.describe()
        for pending in described.raw_description.pending_activities:
            started = pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            if pending.activity_type.name == activity and started and pending.attempt >= attempt:
                return pending
        await asyncio.sleep(0.05)
    raise AssertionError(f"attempt {attempt} of {activity} did not start within {timeout}s")


def worker_of(workers: list[Child], pending: PendingActivityInfo) -> Child:
    """The worker running the attempt (Temporal's default identity is `<pid>@<host>`)."""
    pid = int(pending.last_worker_identity.split("@", 1)[0])
    return next(worker for worker in workers if worker.pid == pid)


def kill(worker: Child) -> float:
    """SIGKILL: no draining, no goodbye to Temporal; returns the wall-clock time of the kill."""
    assert worker.process is not None
    worker.process.send_signal(signal.SIGKILL)
    return time.time()


def seconds_after(pending: PendingActivityInfo, killed_at: float) -> float:
    """Seconds from the kill to the start of the attempt `pending` describes."""
    return pending.last_started_time.ToMicroseconds() / 1e6 - killed_at
