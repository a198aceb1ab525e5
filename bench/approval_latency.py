"""Approval decision → next activity: how long after an approver's decision POST the decided tool
call (`run_tool`) starts, with the workflow cached in the worker (warm) and with every workflow
evicted after each workflow task (`worker_max_cached_workflows=0`, so each step replays history).

Per mode: a fresh embedded stack (tests/stack.py, the real dev supervisor on loopback), a few
warm-up tasks, then N measured tasks, one at a time (latency, not throughput). Each task has the
scripted model ask for `write_file` outside `drafts/`, which the `scripted-approvals` agent holds
for approval. Once the workflow is idle in its wait, the admin key approves it.

latency  = run_tool's ActivityTaskStarted event_time − the wall clock just before the POST
baseline = WorkflowExecutionSignaled event_time − the same moment: what the gateway needs to
           record the decision and get the signal into the history; latency − baseline is the
           workflow's own part (worker dispatch, replay when evicted, activities on the way)
Both clocks are this machine's CLOCK_REALTIME: the Temporal dev server stamps events, this
process reads time.time(). ActivityTaskStarted is written when the activity completes but
carries the real start time, so histories are read after the task has finished.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from bench import (
    Summary,
    activity_names,
    by_label,
    event_label,
    event_ms,
    load_text,
    machine,
    offsets_table,
    percentile,
    signal_floor,
    wait_idle,
)
from bench.stacks import fresh_stack
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.stack import RunningStack
from workflows.contracts.approvals import APPROVAL_DECIDED
from workflows.contracts.tasks import workflow_id_for_task

logger = logging.getLogger(__name__)

NAME = "approval-latency"
TITLE = "Approval decision → next activity"
AGENT = "scripted-approvals"
TOOL_ACTIVITY = "run_tool"
MODES: dict[str, dict[str, Any]] = {
    "warm": {},
    "evicted": {"worker_max_cached_workflows": 0},
}
TARGET_P50_MS = {"warm": 25.0, "evicted": 250.0}
STEP_TIMEOUT = 60.0  # each wait of one task: to the approval, to quiet, to the end
POLL_SECONDS = 0.02
SETTLE_SECONDS = 0.25  # after the decision's answer, before the harness asks Temporal anything


@dataclass
class Sample:
    total_ms: float  # POST sent → run_tool started
    signal_ms: float  # POST sent → WorkflowExecutionSignaled (the baseline)
    post_ms: float  # the POST's own duration, as the client saw it
    milestones: list[tuple[str, float]]  # what happened after the POST, ms after it was sent
    segments: list[tuple[str, float]]  # the critical path after the signal, as durations


@dataclass
class ModeResult:
    mode: str
    samples: list[Sample]
    load_before: tuple[float, float, float]  # 1/5/15-min load averages, measured phase
    load_after: tuple[float, float, float]

    def summary(self, attribute: str) -> Summary:
        return Summary.of([getattr(s, attribute) for s in self.samples])

    def overhead(self) -> Summary:
        return Summary.of([s.total_ms - s.signal_ms for s in self.samples])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", type=int, default=100, help="measured tasks per mode")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured tasks first")
    parser.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}"
    )


async def run(args: argparse.Namespace, command: str) -> str:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes or args.tasks < 1 or args.warmup < 0:
        raise SystemExit(f"{NAME}: bad options (modes {modes}, tasks {args.tasks})")
    results = [await measure_mode(mode, args.tasks, args.warmup) for mode in modes]
    report = render(results, command)
    return report


async def measure_mode(mode: str, tasks: int, warmup: int) -> ModeResult:
    async with fresh_stack(mode, **MODES[mode]) as running:
        client = await connect_temporal(running.settings)
        async with running.api() as api:
            for _ in range(warmup):
                await one_task(running, api, client)
            load = os.getloadavg()
            samples = []
            for i in range(tasks):
                samples.append(await one_task(running, api, client))
                if (i + 1) % 10 == 0:
                    logger.info("%s: %d/%d tasks measured", mode, i + 1, tasks)
    return ModeResult(mode, samples, load, os.getloadavg())


async def one_task(running: RunningStack, api: httpx.AsyncClient, client: Client) -> Sample:
    key = unique_key("bench")
    marker = await running.scripted.script(
        key,
        [
            reply_tool_calls([("write_file", {"path": "out/bench.txt", "content": "x"})]),
            reply_text("written"),
        ],
    )
    created = await api.post("/v1/tasks", json={"agent": AGENT, "input": f"write {marker}"})
    _expect(created, 201)
    task_id = created.json()["id"]
    await _wait_status(api, task_id, {"waiting_approval"})
    handle = client.get_workflow_handle(workflow_id_for_task(task_id))
    # until nothing runs (e.g. the approval webhook activity has finished), so the decision
    # finds the workflow parked in its wait, as it would be after a human's think time
    await wait_idle(handle, STEP_TIMEOUT, POLL_SECONDS)
    listed = await api.get("/v1/approvals", params={"task_id": task_id})
    _expect(listed, 200)
    [approval] = listed.json()["items"]

    sent_at, started = time.time(), time.perf_counter()
    decided = await api.post(
        f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}
    )
    post_ms = (time.perf_counter() - started) * 1000
    answered_at = time.time()
    _expect(decided, 200)

    # nothing asks the server anything while the step runs (as in the floor's harness): a
    # history long poll started at once makes Temporal read the whole history just as it
    # dispatches the workflow task; then the workflow's end by long poll
    await asyncio.sleep(SETTLE_SECONDS)
    await asyncio.wait_for(handle.result(), STEP_TIMEOUT)
    await running.scripted.forget(key)
    history = await handle.fetch_history()
    return _sample(list(history.events), sent_at, answered_at, post_ms)


def _sample(
    events: list[HistoryEvent], sent_at: float, answered_at: float, post_ms: float
) -> Sample:
    def ms(event: HistoryEvent) -> float:
        return event_ms(event, sent_at)

    signalled = next(
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name == APPROVAL_DECIDED
    )
    names = activity_names(events)
    later = events[signalled:]
    tool_started = next(
        e
        for e in later
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and names[e.activity_task_started_event_attributes.scheduled_event_id] == TOOL_ACTIVITY
    )
    end = ms(tool_started)
    milestones = [("decision POST answered", (answered_at - sent_at) * 1000)]
    seen: dict[str, int] = defaultdict(int)
    for event in later:
        if ms(event) > end:
            continue
        label = event_label(event, names)
        seen[label] += 1
        milestones.append((label if seen[label] == 1 else f"{label} #{seen[label]}", ms(event)))
    milestones.sort(key=lambda item: item[1])
    segments = [("POST → signal recorded", ms(events[signalled]))]
    by_id = {e.event_id: e for e in events}
    tasks = 0
    for event in later:
        if ms(event) > end:
            continue
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            tasks += 1
            queued = by_id[event.workflow_task_started_event_attributes.scheduled_event_id]
            segments.append((f"workflow task {tasks} queued", ms(event) - ms(queued)))
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            began = by_id[event.workflow_task_completed_event_attributes.started_event_id]
            segments.append((f"workflow task {tasks} ran", ms(event) - ms(began)))
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes
            name = names[done.scheduled_event_id]
            segments.append((f"{name} ran", ms(event) - ms(by_id[done.started_event_id])))
    return Sample(end, ms(events[signalled]), post_ms, milestones, segments)


async def _wait_status(api: httpx.AsyncClient, task_id: str, statuses: set[str]) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        response = await api.get(f"/v1/tasks/{task_id}")
        _expect(response, 200)
        status = response.json()["status"]
        if status in statuses:
            return
        if status in {"succeeded", "failed", "cancelled"} or time.monotonic() > deadline:
            raise RuntimeError(f"task {task_id} is {status}, not {sorted(statuses)}")
        await asyncio.sleep(POLL_SECONDS * 2.5)


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )


def _against_floor(warm: ModeResult) -> str:
    """The warm p50 against the floor the signal-floor benchmark recorded in the same file."""
    section = f'"{signal_floor.TITLE}"'
    floor = signal_floor.recorded_floor()
    if floor is None:
        return (
            f"No Temporal floor is recorded yet (section {section}): run "
            f"`.venv/bin/python -m bench {signal_floor.NAME}` to compare with it."
        )
    p50 = warm.summary("total_ms").p50
    return (
        f"**Against the Temporal floor** (section {section}: a trivial workflow's signal → "
        f"next activity, mode `{floor.mode}`, p50 {floor.p50:.1f} ms, measured {floor.date}): "
        f"warm p50 ÷ floor = **{p50 / floor.p50:.1f}×**; warm p50 − floor = {p50 - floor.p50:.1f} "
        "ms, what the gateway (POST → signal) and the agent workflow add to Temporal's own step."
    )


def render(results: list[ModeResult], command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Command: `{command}` (`make bench` runs every benchmark with its defaults).  ",
        f"Machine: {machine()}.  ",
        f"Date: {now}.",
        "",
        "**Latency** is the time from the moment just before the decision POST is sent to the "
        f"start of the decided tool call (`{TOOL_ACTIVITY}` ActivityTaskStarted `event_time`). "
        "**Baseline** is the same measurement to the WorkflowExecutionSignaled event: what the "
        "gateway needs to store the decision and get the signal into the history. Latency − "
        "baseline is the workflow's own part. Both clocks are this machine's wall clock (the "
        "Temporal dev server stamps events; the harness reads `time.time()`). Tasks are decided "
        "one at a time, each once its workflow is idle in the approval wait; "
        f"warm = default workflow cache, evicted = `worker_max_cached_workflows=0` (every "
        "workflow task replays the history). After each decision's answer the harness waits "
        f"{SETTLE_SECONDS:.2f} s before it asks Temporal anything, so its own history reads "
        "stay out of the measured step. All times in ms.",
        "",
        "| mode | n | p50 | p90 | p99 | max | target (p50) | met | baseline p50 / p99 "
        "| latency ÷ baseline (p50) | workflow part p50 / p99 | POST duration p50 / p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        total, base, post, own = (
            r.summary("total_ms"),
            r.summary("signal_ms"),
            r.summary("post_ms"),
            r.overhead(),
        )
        target = TARGET_P50_MS[r.mode]
        lines.append(
            f"| {r.mode} | {total.n} | {total.p50:.1f} | {total.p90:.1f} | {total.p99:.1f} "
            f"| {total.max:.1f} | ≤ {target:.0f} | {'yes' if total.p50 <= target else '**no**'} "
            f"| {base.p50:.1f} / {base.p99:.1f} | {total.p50 / base.p50:.1f}× "
            f"| {own.p50:.1f} / {own.p99:.1f} | {post.p50:.1f} / {post.p99:.1f} |"
        )
    by_mode = {r.mode: r for r in results}
    if "warm" in by_mode and "evicted" in by_mode:
        warm, evicted = by_mode["warm"].summary("total_ms"), by_mode["evicted"].summary("total_ms")
        lines += ["", f"Evicted ÷ warm (p50): {evicted.p50 / warm.p50:.1f}×."]
    if "warm" in by_mode:
        lines += ["", _against_floor(by_mode["warm"])]
    lines += [
        "",
        f"p99 is interpolated linearly between ranks (n = {len(results[0].samples)}). "
        "Other work on the machine shows in the load average "
        f"(1/5/15 min; {len(os.sched_getaffinity(0))} cores) at the start → end of each "
        "measured phase: "
        + "; ".join(
            f"{r.mode} {load_text(r.load_before)} → {load_text(r.load_after)}" for r in results
        )
        + ".",
    ]
    for r in results:
        path = by_label([sample.segments for sample in r.samples])
        steps = " · ".join(f"{label} {percentile(v, 50):.1f}" for label, v in path.items())
        lines += [
            "",
            f"Critical path, {r.mode} (p50 of each part, ms): {steps} → `{TOOL_ACTIVITY}` starts.",
        ]
    for r in results:
        lines += ["", f"Where the time goes, {r.mode} (ms after the POST was sent):", ""]
        lines += offsets_table([sample.milestones for sample in r.samples])
    return "\n".join(lines) + "\n"
