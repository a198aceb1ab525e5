"""Workers the fault tests start and kill, and reading which attempt of an activity runs where
(shared by tests/integration/test_faults.py and bench/worker_kill.py)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ActivityError

from services.devstack.processes import Child
from tests.integration.helpers import worker_process
from tests.stack import RunningStack
from workflows.failures import public_failure

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
    """`activity` once its attempt number `attempt` (or a later one) has started: as Temporal
    describes it while pending, or, when that attempt was over before a look found it pending,
    as its history records it (the started event of a closed activity holds its last attempt)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = await handle.describe()
        for pending in described.raw_description.pending_activities:
            started = pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            if pending.activity_type.name == activity and started and pending.attempt >= attempt:
                return pending
        # a first attempt is only ever looked for to be killed, so only while it runs: in the
        # history, an earlier call of the same activity that already ended would match too
        if attempt > 1 and (closed := await _closed_attempt(handle, activity, attempt)):
            return closed
        await asyncio.sleep(0.05)
    raise AssertionError(f"attempt {attempt} of {activity} did not start within {timeout}s")


async def _closed_attempt(
    handle: WorkflowHandle[object, object], activity: str, attempt: int
) -> PendingActivityInfo | None:
    events = (await handle.fetch_history()).events
    scheduled = {
        event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
        for event in of_type(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    }
    for event in of_type(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED):
        started = event.activity_task_started_event_attributes
        if scheduled.get(started.scheduled_event_id) == activity and started.attempt >= attempt:
            info = PendingActivityInfo(
                attempt=started.attempt, last_worker_identity=started.identity
            )
            info.activity_type.name = activity
            info.last_started_time.CopyFrom(event.event_time)
            return info
    return None


def worker_of(workers: list[Child], pending: PendingActivityInfo) -> Child:
    """The worker running the attempt."""
    return worker_named(workers, pending.last_worker_identity)


def worker_named(workers: list[Child], identity: str) -> Child:
    """The worker of a Temporal identity (the SDK's default is `<pid>@<host>`)."""
    pid = int(identity.split("@", 1)[0])
    return next(worker for worker in workers if worker.pid == pid)


async def idle_workflow_holder(handle: WorkflowHandle[object, object], timeout: float = 30) -> str:
    """Once the workflow waits with nothing in flight (no activity, no workflow task): the
    identity of the worker that completed its last workflow task, which holds it in its cache
    and gets its next workflow task first (its sticky queue)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = (await handle.describe()).raw_description
        if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
            history = await handle.fetch_history()
            completed = of_type(history.events, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
            return completed[-1].workflow_task_completed_event_attributes.identity
        await asyncio.sleep(0.05)
    raise AssertionError(f"the workflow was not idle within {timeout}s")


def of_type(events: Sequence[HistoryEvent], kind: EventType.ValueType) -> list[HistoryEvent]:
    return [event for event in events if event.event_type == kind]


def resumed_after_signal(events: Sequence[HistoryEvent], signal_name: str) -> tuple[str, float]:
    """Who started the first workflow task after the signal `signal_name`, and how many seconds
    after the signal reached Temporal (both times are the server's)."""
    signaled = next(
        event
        for event in of_type(events, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
        if event.workflow_execution_signaled_event_attributes.signal_name == signal_name
    )
    started = next(
        event
        for event in of_type(events, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
        if event.event_id > signaled.event_id
    )
    seconds = started.event_time.ToMicroseconds() / 1e6 - signaled.event_time.ToMicroseconds() / 1e6
    return started.workflow_task_started_event_attributes.identity, seconds


@contextlib.asynccontextmanager
async def attempt_failures(
    client: Client, handle: WorkflowHandle[object, object], activity: str
) -> AsyncIterator[list[str]]:
    """While open, collects what Temporal kept of each failed attempt of `activity` (read
    as its retry waits), as the tenant would read it had it been the last attempt."""
    reasons: list[str] = []
    seen: set[tuple[str, int]] = set()
    converter = client.data_converter

    async def watch() -> None:
        while True:
            for pending in (await handle.describe()).raw_description.pending_activities:
                attempt = (pending.activity_id, pending.attempt)
                failed = pending.HasField("last_failure")
                if pending.activity_type.name != activity or not failed or attempt in seen:
                    continue
                seen.add(attempt)
                cause = converter.failure_converter.from_failure(
                    pending.last_failure, converter.payload_converter
                )
                reasons.append(public_failure(as_activity_error(activity, cause)))
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        yield reasons
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def as_activity_error(activity: str, cause: BaseException) -> ActivityError:
    """`cause` as the workflow receives it when the activity's last attempt fails."""
    error = ActivityError(
        "activity error", scheduled_event_id=0, started_event_id=0, identity="",
        activity_type=activity, activity_id="", retry_state=None,
    )  # fmt: skip
    error.__cause__ = cause
    return error


_HOST = re.compile(r"://|\b\d{1,3}(\.\d{1,3}){3}\b|localhost|127\.0\.0\.1", re.IGNORECASE)
_MACHINERY = ("Traceback", 'File "', "[SQL", "SELECT ", "INSERT ", "size limit")


def assert_in_words(reason: str) -> None:
    """What a tenant may read: a sentence, with no host, SQL or stack trace in it."""
    assert reason and not _HOST.search(reason), reason
    assert not any(part in reason for part in _MACHINERY), reason


def kill(worker: Child) -> float:
    """SIGKILL: no draining, no goodbye to Temporal; returns the wall-clock time of the kill."""
    assert worker.process is not None
    worker.process.send_signal(signal.SIGKILL)
    return time.time()


def seconds_after(pending: PendingActivityInfo, killed_at: float) -> float:
    """Seconds from the kill to the start of the attempt `pending` describes."""
    return pending.last_started_time.ToMicroseconds() / 1e6 - killed_at
