"""A worker SIGKILLed in the middle of a model call or a tool call: how long until another
worker starts the activity's retry.

One embedded stack (tests/stack.py), two workers of pool `faults` started by the benchmark
(tests/integration/fault_helpers.py). Each trial submits a task whose model call (or tool call)
lasts long enough to be killed in flight, kills the worker running it, and reads from Temporal
when the next attempt started on the other worker. The report gives each figure as a ratio
to the 5 s the issue allows (the figure before, 13.6 s, was measured on main's code, which
this run does not have).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path

from bench import machine, percentile, update_section
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.fault_helpers import (
    AGENT,
    fault_workers,
    kill,
    seconds_after,
    started_attempt,
    worker_of,
)
from tests.integration.helpers import served_at_least, submit, wait_for_status
from tests.stack import RunningStack, start_stack, stop_stack
from workflows import policies

logger = logging.getLogger(__name__)

NAME = "worker-kill"
TITLE = "Worker SIGKILL: kill → retry on another worker"
ALLOWED_SECONDS = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=5, help="kills per kind of activity")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone"
    )


async def run(args: argparse.Namespace, command: str) -> str:
    base = Path(tempfile.mkdtemp(prefix="agentry-bench-kill-"))
    running = await start_stack(base / "stack")
    figures: dict[str, list[float]] = {"model_turn": [], "run_tool": []}
    try:
        for trial in range(args.trials):
            for activity in figures:
                figures[activity].append(await one_kill(running, base / f"{trial}", activity))
                logger.info("%s kill %d: %.2fs", activity, trial, figures[activity][-1])
    finally:
        await stop_stack(running)
    shutil.rmtree(base, ignore_errors=True)
    report = render(figures, command)
    if not args.no_write:
        update_section(TITLE, report)
    return report


async def one_kill(running: RunningStack, base: Path, activity: str) -> float:
    """Seconds from the SIGKILL to the start of the retry."""
    if activity == "model_turn":
        replies = [reply_text("lost", delay_s=60), reply_text("done")]
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
        killed_at = kill(worker_of(workers, first))
        retry = await started_attempt(handle, activity, 2)
        if activity == "run_tool":  # the retried wait would take a minute: end the task
            await api.post(f"/v1/tasks/{task['id']}/cancel", json={"reason": "bench done"})
        await wait_for_status(api, task["id"], timeout=120)
    return seconds_after(retry, killed_at)


def render(figures: dict[str, list[float]], command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    heartbeat = policies.HEARTBEAT_TIMEOUT.total_seconds()
    first_retry = policies.FIRST_RETRY_AFTER.total_seconds()
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
        "| activity killed | trials | p50 | max | max ÷ target |",
        "|---|---|---|---|---|",
    ]
    for activity, values in figures.items():
        lines.append(
            f"| {activity} | {len(values)} | {percentile(values, 50):.2f} s | "
            f"{max(values):.2f} s | {max(values) / ALLOWED_SECONDS:.2f} |"
        )
    return "\n".join(lines) + "\n"
