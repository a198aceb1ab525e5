"""A burst of tasks: all reach a final state, none lost or duplicated; how long the backlog
takes to drain and how much memory each process of the stack peaks at.

One embedded stack (tests/stack.py) with the scripted model answering after `--latency`
seconds; each task asks for one calculator call, then answers (2 model calls, 1 tool call).
The tasks come from `--tenants` tenants at once, as fast as the gateway takes them. Baseline,
in the same run on the same stack: a burst of `--baseline` tasks; the report gives the
big burst's throughput as a ratio to it (does a deep backlog slow the service down?).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import machine
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.stack import RunningStack, start_stack, stop_stack

logger = logging.getLogger(__name__)

NAME = "load-burst"
TITLE = "Load: a burst of 1,000 tasks"
AGENT = "scripted-native"
UNFINISHED = ("queued", "running", "waiting_approval", "waiting_input")
SUBMIT_CONCURRENCY = 32
DRAIN_TIMEOUT = 1800.0
# which process of the stack a command line belongs to (first match wins)
PROCESS_KINDS = (
    ("process_server", "tool processes"),
    ("scripted_model", "scripted model"),
    ("webhook_receiver", "webhook receiver"),
    ("litellm", "LiteLLM"),
    ("temporal", "Temporal"),
    ("postgres", "Postgres"),
    (" worker", "worker"),
    ("gateway", "gateway"),
    ("uvicorn", "gateway"),
)


@dataclass
class Burst:
    tasks: int
    submit_seconds: float
    drain_seconds: float
    statuses: Counter[str]
    refused: int  # submits answered 429 (a tenant's queue full), resubmitted after Retry-After
    duplicates: int  # tasks whose model or tool calls ran more often than scripted
    peak_mb: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.tasks / self.drain_seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", type=int, default=1000, help="tasks in the burst")
    parser.add_argument("--baseline", type=int, default=100, help="tasks in the baseline burst")
    parser.add_argument("--tenants", type=int, default=10, help="tenants submitting at once")
    parser.add_argument("--latency", type=float, default=0.2, help="model latency, seconds")


async def run(args: argparse.Namespace, command: str) -> str:
    base = Path(tempfile.mkdtemp(prefix="agentry-bench-burst-"))
    running = await start_stack(base / "stack")
    try:
        baseline = await burst(running, args.baseline, args.tenants, args.latency)
        big = await burst(running, args.tasks, args.tenants, args.latency)
    finally:
        await stop_stack(running)
    shutil.rmtree(base, ignore_errors=True)
    report = render(baseline, big, args, command)
    return report


async def burst(running: RunningStack, count: int, tenants: int, latency: float) -> Burst:
    keys = [
        await running.create_key("submitter", "burst", tenant=f"burst-{n}-{unique_key('t')}")
        for n in range(tenants)
    ]
    markers = []
    for n in range(count):
        markers.append(
            await running.scripted.script(
                unique_key("burst"),
                [
                    reply_tool_calls([("calculator", {"expression": f"{n}*2"})], delay_s=latency),
                    reply_text(f"done {n}", delay_s=latency),
                ],
            )
        )
    sampler = MemorySampler()
    sampling = asyncio.create_task(sampler.run())
    clients = [running.api(key) for key in keys]
    refused = 0
    gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)

    async def submit(n: int) -> str:
        nonlocal refused
        api = clients[n % tenants]
        body = {"agent": AGENT, "input": f"double {n} {markers[n]}"}
        async with gate:
            while True:
                answer = await api.post(
                    "/v1/tasks", json=body, headers={"Idempotency-Key": f"burst-{markers[n]}"}
                )
                if answer.status_code != 429:
                    answer.raise_for_status()
                    task_id: str = answer.json()["id"]
                    return task_id
                refused += 1
                await asyncio.sleep(float(answer.headers.get("retry-after", "1")))

    started = time.monotonic()
    try:
        task_ids = await asyncio.gather(*(submit(n) for n in range(count)))
        submitted = time.monotonic() - started
        logger.info("%d tasks submitted in %.1fs", count, submitted)
        tasks = await drained(clients, task_ids, tenants)
        drained_after = time.monotonic() - started
    finally:
        sampling.cancel()
        for client in clients:
            await client.aclose()
    if len(set(task_ids)) != count:
        raise RuntimeError(f"{count} submits gave {len(set(task_ids))} distinct tasks")
    duplicates = sum(
        1 for t in tasks if t["usage"]["llm_calls"] > 2 or t["usage"]["tool_calls"] > 1
    )
    return Burst(
        tasks=count,
        submit_seconds=submitted,
        drain_seconds=drained_after,
        statuses=Counter(t["status"] for t in tasks),
        refused=refused,
        duplicates=duplicates,
        peak_mb=sampler.peaks,
    )


async def drained(
    clients: list[httpx.AsyncClient], task_ids: list[str], tenants: int
) -> list[dict[str, Any]]:
    """Every task, once all are final. While waiting, each tenant is asked only whether it has
    a task not final (two small list requests), so the polling hardly loads the gateway; then
    every task is read back one by one: none may be missing."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while await _unfinished(clients):
        if time.monotonic() > deadline:
            raise RuntimeError(f"tasks not final after {DRAIN_TIMEOUT:.0f}s")
        await asyncio.sleep(0.5)
    tasks = []
    for n, task_id in enumerate(task_ids):
        answer = await clients[n % tenants].get(f"/v1/tasks/{task_id}")
        answer.raise_for_status()
        tasks.append(answer.json())
    return tasks


async def _unfinished(clients: list[httpx.AsyncClient]) -> bool:
    for client in clients:
        for status in UNFINISHED:
            page = await client.get("/v1/tasks", params={"status": status, "limit": 1})
            page.raise_for_status()
            if page.json()["items"]:
                return True
    return False


class MemorySampler:
    """Peak memory of each kind of process below this one, sampled twice a second, as PSS
    (shared pages split between their sharers, so the processes of one kind, e.g. Postgres's
    backends, can be summed)."""

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}

    async def run(self) -> None:
        while True:
            totals: Counter[str] = Counter()
            for process in psutil.Process().children(recursive=True):
                try:
                    command = " ".join(process.cmdline())
                    mb = process.memory_full_info().pss / 2**20
                except psutil.Error:
                    continue
                kind = next((k for needle, k in PROCESS_KINDS if needle in command), None)
                if kind is not None:
                    totals[kind] += mb
            for kind, mb in totals.items():
                self.peaks[kind] = max(self.peaks.get(kind, 0.0), mb)
            await asyncio.sleep(0.5)


def render(baseline: Burst, big: Burst, args: argparse.Namespace, command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Command: `{command}`.  ",
        f"Machine: {machine()}.  ",
        f"Date: {now}.",
        "",
        f"Each task: agent `{AGENT}`, the scripted model answering after {args.latency:g} s, "
        "one calculator call then the answer (2 model calls, 1 tool call). Tasks come from "
        f"{args.tenants} tenants at once ({SUBMIT_CONCURRENCY} submits in flight), each with "
        "an Idempotency-Key; a 429 is retried after its Retry-After. *Duplicated*: a task "
        "whose model or tool ran more often than scripted.",
        "",
        "| burst | submitted in | all final after | tasks/s | succeeded | other | lost | "
        "duplicated | 429s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, b in (("baseline", baseline), ("burst", big)):
        other = sum(n for status, n in b.statuses.items() if status != "succeeded")
        lost = b.tasks - sum(b.statuses.values())
        lines.append(
            f"| {label}, {b.tasks} tasks | {b.submit_seconds:.1f} s | {b.drain_seconds:.1f} s | "
            f"{b.per_second:.1f} | {b.statuses['succeeded']} | {other} | {lost} | "
            f"{b.duplicates} | {b.refused} |"
        )
    lines += [
        "",
        f"Throughput of the {big.tasks}-task burst ÷ the {baseline.tasks}-task baseline = "
        f"**{big.per_second / baseline.per_second:.2f}** (same run, same stack).",
        "",
        "Peak memory per process kind during the big burst (MiB of PSS, shared pages split "
        "between their sharers, summed over the processes of a kind):",
        "",
        "| process | peak PSS |",
        "|---|---|",
    ]
    for kind, mb in sorted(big.peak_mb.items(), key=lambda item: -item[1]):
        lines.append(f"| {kind} | {mb:.0f} |")
    return "\n".join(lines) + "\n"
