"""Flood one pool, watch the other keep going, then scale the flooded pool up and watch it drain.

    .venv/bin/python -m demo.flood [--research 30] [--rate 3] [--hold 8] [--scale-to 4]

Starts its own embedded stack on free loopback ports (the real supervisor, Postgres, Temporal,
LiteLLM, workers and gateway, as `make run` does) with the scripted model server instead of
the CPU models, so each task's duration is the demo's choice, and the pools of demo/pools.yaml:
`research` (2 tasks at a time per worker) and `review`. Then, printing a line a second:

1. one tenant submits `--research` research tasks, `--rate` a second, each a `--tool-seconds`
   tool call: faster than one research worker gets through them, so the pool's backlog grows;
2. another tenant submits a review task every second: they keep finishing in well under a
   second, because they run on the review pool's own workers;
3. after `--hold` seconds the operator scales research to `--scale-to` workers
   (`PUT /v1/pools/research/replicas`); the supervisor starts them and the backlog drains.

Exits 0 when every task succeeded, else 1. Everything stops at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.stack import RunningStack, start_stack, stop_stack

DEMO = Path(__file__).resolve().parent
FINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Tracked:
    """Submitted tasks of one kind: id → submit time, and id → (status, seconds taken)."""

    submitted: dict[str, float] = field(default_factory=dict)
    finished: dict[str, tuple[str, float]] = field(default_factory=dict)

    def open_ids(self) -> list[str]:
        return [task_id for task_id in self.submitted if task_id not in self.finished]

    def succeeded(self) -> int:
        return sum(1 for status, _ in self.finished.values() if status == "succeeded")

    def durations(self) -> list[float]:
        return [seconds for _, seconds in self.finished.values()]


async def main(args: argparse.Namespace) -> int:
    base = Path(tempfile.mkdtemp(prefix="agentry-flood-demo-"))
    print(f"starting a demo stack in {base} (about a minute) ...", flush=True)
    try:
        stack = await start_stack(
            base,
            extra_agents=DEMO / "agents",
            pools_file=DEMO / "pools.yaml",
            tenant_max_concurrent_tasks=10_000,  # this demo is about pools, not tenant caps
        )
        try:
            return await run_demo(stack, args)
        finally:
            print("stopping the demo stack ...", flush=True)
            await stop_stack(stack)
    finally:  # its data (~50 MB of Postgres and Temporal) goes with it
        shutil.rmtree(base, ignore_errors=True)


async def run_demo(stack: RunningStack, args: argparse.Namespace) -> int:
    flood_key = await stack.create_key("submitter", "flood", tenant="research-team")
    review_key = await stack.create_key("submitter", "reviews", tenant="review-team")
    platform_key = await stack.create_key("platform-operator", "demo", tenant="platform")
    research, review = Tracked(), Tracked()
    async with (
        stack.api(platform_key) as operator,
        stack.api(flood_key) as flood,
        stack.api(review_key) as rv,
    ):
        print(
            f"flooding pool research with {args.research} tasks, {args.rate} a second ...",
            flush=True,
        )
        print(_HEADER, flush=True)
        started = time.monotonic()
        scaled_at: float | None = None
        deadline = started + args.timeout
        while len(research.submitted) < args.research or research.open_ids() or review.open_ids():
            now = time.monotonic()
            if now > deadline:
                print(f"gave up after {args.timeout:.0f}s", flush=True)
                break
            for _ in range(min(args.rate, args.research - len(research.submitted))):
                research.submitted[await _research_task(stack, flood, args)] = time.monotonic()
            if research.open_ids():  # keep reviews coming while research is busy
                marker = await stack.scripted.script(unique_key("review"), [reply_text("lgtm")])
                review.submitted[await _submit(rv, "demo-review", marker)] = time.monotonic()
            if scaled_at is None and now - started >= args.hold:
                await _scale(operator, "research", args.scale_to)
                scaled_at = now
                print(f"--- scaled pool research to {args.scale_to} workers ---", flush=True)
            await _collect(flood, research)
            await _collect(rv, review)
            pools = await _pools(operator)
            print(_row(now - started, pools, research, review), flush=True)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - now)))

        await _scale(operator, "research", 1)
    print(_summary(research, review, scaled_at, started), flush=True)
    everything = [*research.finished.values(), *review.finished.values()]
    ok = len(everything) == len(research.submitted) + len(review.submitted)
    return 0 if ok and all(status == "succeeded" for status, _ in everything) else 1


async def _research_task(
    stack: RunningStack, api: httpx.AsyncClient, args: argparse.Namespace
) -> str:
    marker = await stack.scripted.script(
        unique_key("research"),
        [reply_tool_calls([("wait", {"seconds": args.tool_seconds})]), reply_text("found it")],
    )
    return await _submit(api, "demo-research", marker)


async def _submit(api: httpx.AsyncClient, agent: str, text: str) -> str:
    response = await api.post("/v1/tasks", json={"agent": agent, "input": text})
    response.raise_for_status()
    task_id: str = response.json()["id"]
    return task_id


async def _collect(api: httpx.AsyncClient, tracked: Tracked) -> None:
    for task_id in tracked.open_ids():
        task = (await api.get(f"/v1/tasks/{task_id}")).json()
        if task["status"] in FINAL:
            tracked.finished[task_id] = (
                task["status"],
                time.monotonic() - tracked.submitted[task_id],
            )


async def _pools(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/v1/pools")
    response.raise_for_status()
    return {pool["name"]: pool for pool in response.json()["items"]}


async def _scale(api: httpx.AsyncClient, pool: str, replicas: int) -> None:
    response = await api.put(f"/v1/pools/{pool}/replicas", json={"replicas": replicas})
    response.raise_for_status()


_HEADER = (
    "   t | research: backlog wf/act  running  done/total  workers | review: done/total  "
    "slowest so far"
)


def _row(elapsed: float, pools: dict[str, Any], research: Tracked, review: Tracked) -> str:
    pool = pools["research"]
    backlog = pool["backlog"]
    wf, act = backlog["workflow_tasks"]["count"], backlog["activity_tasks"]["count"]
    slowest = max(review.durations(), default=0.0)
    return (
        f"{elapsed:4.0f}s | {'':9}{_n(wf):>4}/{_n(act):<4}  {pool['tasks']['running']:>7}  "
        f"{len(research.finished):>4}/{len(research.submitted):<5}  "
        f"{pool['workers_polling']:>3}/{pool['replicas']['desired']:<3} | "
        f"{len(review.finished):>9}/{len(review.submitted):<5}  {slowest:5.2f}s"
    )


def _n(count: int | None) -> str:
    return "?" if count is None else str(count)


def _summary(research: Tracked, review: Tracked, scaled_at: float | None, started: float) -> str:
    reviews = review.durations()
    lines = [
        "",
        f"research: {research.succeeded()}/{len(research.submitted)} succeeded",
        f"review:   {review.succeeded()}/{len(review.submitted)} succeeded while research was "
        "flooded; time to finish p50 "
        + (f"{statistics.median(reviews):.2f}s, max {max(reviews):.2f}s" if reviews else "n/a"),
    ]
    if scaled_at is not None:
        lines.append(f"research was scaled up {scaled_at - started:.0f}s into the flood")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo.flood", description=__doc__)
    parser.add_argument("--research", type=int, default=30, help="research tasks in the flood")
    parser.add_argument("--rate", type=int, default=3, help="research tasks a second")
    parser.add_argument("--tool-seconds", type=float, default=2.0, help="each one's tool call")
    parser.add_argument("--hold", type=float, default=8.0, help="seconds before scaling up")
    parser.add_argument("--scale-to", type=int, default=4, help="research workers after")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after")
    args = parser.parse_args(argv)
    if min(args.research, args.rate, args.scale_to) < 1 or args.tool_seconds < 0:
        parser.error("--research, --rate and --scale-to must be ≥ 1, --tool-seconds ≥ 0")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
