"""A worker SIGKILLed in the middle of a model call or a tool call: how long until another
worker starts the activity's retry; and killed while its workflow waits for an approval: how
long after the decision another worker takes the workflow up.

One embedded stack (tests/stack.py), two workers of pool `faults` started by the benchmark
(tests/integration/fault_helpers.py). Each trial submits a task whose model call (or tool call)
lasts long enough to be killed in flight, kills the worker running it, and reads from Temporal
when the next attempt started on the other worker; or kills the worker holding a workflow that
waits for an approval, decides it at once, and reads from Temporal when the first workflow
task after the decision's signal started. The report gives each figure as a ratio to the 5 s
the issue allows (the figure before, 13.6 s, was measured on main's code, which this run does
not have).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from bench import machine, percentile
from services.temporal_client import connect_temporal
from services.worker.process import STICKY_TIMEOUT
from tests.fakes.script_client import reply_hang, reply_text, reply_tool_calls, unique_key
from tests.integration.fault_helpers import (
    AGENT,
    fault_workers,
    idle_workflow_holder,
    kill,
    of_type,
    resumed_after_signal,
    seconds_after,
    started_attempt,
    worker_named,
    worker_of,
)
from tests.integration.helpers import served_at_least, submit, wait_for_status
from tests.integration.test_approvals_flow import open_approvals
from tests.stack import RunningStack, start_stack, stop_stack
from workflows import policies
from workflows.contracts.approvals import APPROVAL_DECIDED

logger = logging.getLogger(__name__)

NAME = "worker-kill"
TITLE = "Worker SIGKILL: kill → retry on another worker"
ALLOWED_SECONDS = 5.0
APPROVAL_WAIT = "approval wait"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=5, help="kills per kind of activity")


async def run(args: argparse.Namespace, command: str) -> str:
    base = Path(tempfile.mkdtemp(prefix="agentry-bench-kill-"))
    running = await start_stack(base / "stack")
    figures: dict[str, list[float]] = {"model_turn": [], "run_tool": [], APPROVAL_WAIT: []}
    moved_on: list[tuple[bool, float]] = []
    try:
        for trial in range(args.trials):
            for kind in figures:
                where = base / f"{trial}-{kind.replace(' ', '-')}"
                if kind == APPROVAL_WAIT:
                    figures[kind].append(await one_approval_kill(running, where))
                else:
                    figures[kind].append(await one_kill(running, where, kind, moved_on))
                logger.info("%s kill %d: %.2fs", kind, trial, figures[kind][-1])
    finally:
        await stop_stack(running)
    shutil.rmtree(base, ignore_errors=True)
    report = render(figures, moved_on, command)
    return report


async def one_kill(
    running: RunningStack, base: Path, activity: str, moved_on: list[tuple[bool, float]]
) -> float:
    """Seconds from the SIGKILL to the start of the retry. For a model call, also appended to
    `moved_on`: whether the killed worker held the workflow, and the seconds from the retry's
    end to the start of the workflow task that read its result."""
    if activity == "model_turn":
        replies = [reply_hang(), reply_text("done")]
    else:
        replies = [reply_tool_calls([("wait", {"seconds": 60})]), reply_text("done")]
    key = unique_key("kill")
    marker = await running.scripted.script(key, replies)
    client = await connect_temporal(running.settings)
    async with fault_workers(running, base) as workers, running.api() as api:
        task = await submit(api, AGENT, f"kill {marker}")
        handle = client.get_workflow_handle(f"task-{task['id']}")
        first = await started_attempt(handle, activity, 1)
        await served_at_least(running, key, 1)  # the call is out when the worker dies
        before_kill = (await handle.fetch_history()).events
        killed_at = kill(worker_of(workers, first))
        retry = await started_attempt(handle, activity, 2)
        if activity == "run_tool":  # the retried wait would take a minute: end the task
            await api.post(f"/v1/tasks/{task['id']}/cancel", json={"reason": "bench done"})
        await wait_for_status(api, task["id"], timeout=120)
    await running.scripted.forget(key)  # lets a hung request go
    if activity == "model_turn":
        held = last_workflow_worker(before_kill) == first.last_worker_identity
        moved_on.append((held, read_after((await handle.fetch_history()).events, activity)))
    return seconds_after(retry, killed_at)


def last_workflow_worker(events: Sequence[HistoryEvent]) -> str:
    completed = of_type(events, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    return completed[-1].workflow_task_completed_event_attributes.identity


def read_after(events: Sequence[HistoryEvent], activity: str) -> float:
    """Seconds from the completion of `activity` to the start of the workflow task after it."""
    scheduled = {
        event.event_id
        for event in of_type(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        if event.activity_task_scheduled_event_attributes.activity_type.name == activity
    }
    done = next(
        event
        for event in of_type(events, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
        if event.activity_task_completed_event_attributes.scheduled_event_id in scheduled
    )
    read = next(
        event
        for event in of_type(events, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
        if event.event_id > done.event_id
    )
    return (read.event_time.ToMicroseconds() - done.event_time.ToMicroseconds()) / 1e6


async def one_approval_kill(running: RunningStack, base: Path) -> float:
    """Seconds from the decision's signal to the start of the workflow task that takes it up,
    on the worker still alive."""
    key = unique_key("kill-approval")
    replies = [reply_tool_calls([("write_file", {"path": "out/r.txt", "content": "r"})])]
    marker = await running.scripted.script(key, [*replies, reply_text("saved")])
    client = await connect_temporal(running.settings)
    approver = await running.create_key("approver", "bench-kill-approver")
    async with (
        fault_workers(running, base) as workers,
        running.api() as api,
        running.api(approver) as approvals,
    ):
        task = await submit(api, AGENT, f"report {marker}")
        handle = client.get_workflow_handle(f"task-{task['id']}")
        await wait_for_status(api, task["id"], {"waiting_approval"}, timeout=60)
        holder = await idle_workflow_holder(handle)
        kill(worker_named(workers, holder))
        [pending] = await open_approvals(approvals, task["id"])
        decision = {"decision": "approve"}
        await approvals.post(f"/v1/approvals/{pending['id']}/decision", json=decision)
        await wait_for_status(api, task["id"], timeout=120)
    resumed_by, seconds = resumed_after_signal(
        (await handle.fetch_history()).events, APPROVAL_DECIDED
    )
    if resumed_by == holder:
        raise AssertionError("the killed worker took up the decision")
    return seconds


def render(
    figures: dict[str, list[float]], moved_on: list[tuple[bool, float]], command: str
) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    heartbeat = policies.HEARTBEAT_TIMEOUT.total_seconds()
    first_retry = policies.FIRST_RETRY_AFTER.total_seconds()
    sticky = STICKY_TIMEOUT.total_seconds()
    lines = [
        f"Command: `{command}`.  ",
        f"Machine: {machine()}.  ",
        f"Date: {now}.",
        "",
        f"Heartbeat timeout {heartbeat:g} s (heartbeats every second, flushed at most a second "
        f"apart), first retry {first_retry:g} s after. Seconds from the SIGKILL of the worker "
        "running the attempt to the start of the next attempt on the other worker, read from "
        f"Temporal. Target: ≤ {ALLOWED_SECONDS:g} s. Before (main at issue 11): 13.6 s, with a "
        "10 s heartbeat timeout.",
        "",
        f"`{APPROVAL_WAIT}`: the worker holding a workflow that waits for an approval is "
        "killed and the call approved at once; seconds from the decision's signal to the start "
        "of the workflow task that takes it up on the other worker (both times Temporal's). "
        f"The dead worker's sticky queue holds that task for {sticky:g} s (sticky "
        "schedule-to-start timeout), then the pool's queue hands it on.",
        "",
        "The same wait follows a retried activity when the killed worker also held its "
        "workflow, which is the rule here: with eager activity execution on (the dev "
        "server's `system.enableActivityEagerExecution`), the worker that schedules an "
        "activity runs it. The workflow task that reads the retry's result then waits out "
        "the sticky timeout too. Seconds from the end of a killed model_turn's retry to the "
        f"start of that workflow task: {moved_on_text(moved_on)}.",
        "",
        "| killed during | trials | p50 | max | max ÷ target |",
        "|---|---|---|---|---|",
    ]
    for activity, values in figures.items():
        lines.append(
            f"| {activity} | {len(values)} | {percentile(values, 50):.2f} s | "
            f"{max(values):.2f} s | {max(values) / ALLOWED_SECONDS:.2f} |"
        )
    return "\n".join(lines) + "\n"


def moved_on_text(moved_on: list[tuple[bool, float]]) -> str:
    def listed(values: list[float]) -> str:
        return ", ".join(f"{value:.2f}" for value in sorted(values)) or "none"

    held = [seconds for was_held, seconds in moved_on if was_held]
    other = [seconds for was_held, seconds in moved_on if not was_held]
    return (
        f"{listed(held)} when the killed worker held the workflow; {listed(other)} when the "
        "other one did"
    )
