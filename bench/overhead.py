"""Agentry against a bare Temporal workflow doing the same job, in one run on one Temporal
dev server (issue 13): what Agentry's loop costs on top of Temporal, when the model is instant.

The job: the scripted model, behind the LiteLLM proxy as production routes it, answers at once
with one calculator call per turn four times, then answers (5 model calls, 4 tool calls). The
baseline: bench/overhead_workflow.py, nine activities in a row in a worker process of its own
(bench/overhead_worker.py), on the embedded stack's own Temporal (WAL, eager activities and
workflow start). Phases, each run for the baseline, then for Agentry: one task at a time
(back-to-back, then spaced), `--concurrency` in flight, the model taking `--model-ms` with
`--slow-concurrency` in flight. CPU and memory are read from /proc (bench/proc_stats.py),
history sizes from Temporal (bench/overhead_history.py); the report is bench/overhead_report.py.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client

from bench import ROOT, load_text, machine
from bench.overhead_drivers import AgentryDriver, BaselineDriver, Driver, TaskRun, in_flight
from bench.overhead_drivers import one_at_a_time as one_by_one
from bench.overhead_history import history_stats, summarize
from bench.overhead_pools import bench_pools
from bench.overhead_report import Side, figures
from bench.overhead_report import render as render_report
from bench.overhead_worker import WorkerLimits, baseline_worker
from bench.proc_stats import MemorySampler, classify, cpu_delta, cpu_ms_by_kind
from bench.tenant_clients import tenant_clients
from services.pools.catalog import PoolCatalog
from services.temporal_client import connect_temporal
from tests.stack import RunningStack, start_stack, stop_stack

logger = logging.getLogger(__name__)

NAME = "overhead"
TITLE = "Overhead: Agentry against a bare Temporal workflow"
AGENT = "bench-overhead"
AGENTS_DIR = ROOT / "bench" / "agents"
STACK_START_TIMEOUT = 300.0
PHASE_TIMEOUT = 1200.0
STACK_KINDS = {"postgres": "Postgres", "temporal": "Temporal", "litellm": "LiteLLM"}
AGENTRY_KINDS = ("gateway", "worker", "tool processes", "Temporal", "Postgres", "LiteLLM")
BASELINE_KINDS = ("baseline worker", "Temporal")
NEEDLES = (("activities.tools.process_server", "tool processes"),)
# option → (default, quick, what it counts)
SIZES = {
    "one_at_a_time": (50, 10, "tasks one at a time, per side and schedule"),
    "tasks": (500, 200, "tasks per side in the throughput phase"),
    "slow_tasks": (100, 20, "tasks per side with the slow model"),
    "warmup": (5, 2, "unmeasured tasks per side first"),
}
T = TypeVar("T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small samples: under 3 minutes")
    for option, (default, quick, what) in SIZES.items():
        parser.add_argument(
            f"--{option.replace('_', '-')}",
            type=int,
            default=None,
            help=f"{what}: {default}, with --quick {quick}",
        )
    parser.add_argument("--concurrency", type=int, default=100, help="in flight, throughput")
    parser.add_argument("--slow-concurrency", type=int, default=20, help="in flight, slow model")
    parser.add_argument("--model-ms", type=float, default=500.0, help="the slow model's latency")
    parser.add_argument("--gap", type=float, default=0.6, help="seconds between spaced tasks")
    parser.add_argument(
        "--completion",
        choices=("temporal", "wait"),
        default="temporal",
        help="how the client learns an Agentry task is done: the workflow's result, as the "
        "baseline's client does (default), or GET /v1/tasks/{id}?wait=",
    )
    parser.add_argument(
        "--model-turns",
        choices=("activity", "local"),
        default=None,
        help="the default pool's model_turns (default: as deploy/pools.yaml declares it)",
    )


def sizes(args: argparse.Namespace) -> dict[str, int]:
    chosen: dict[str, int] = {}
    for option, (default, quick, _) in SIZES.items():
        given = getattr(args, option)
        chosen[option] = given if given is not None else quick if args.quick else default
    if min(chosen.values()) < 0 or chosen["one_at_a_time"] < 1 or args.concurrency < 1:
        raise SystemExit(f"{NAME}: bad options {chosen}")
    return chosen


async def run(args: argparse.Namespace, command: str) -> str:
    n = sizes(args)
    started = time.monotonic()
    load_before = os.getloadavg()
    base_side, agentry_side, drivers_cpu = await measure(args, n)
    elapsed = time.monotonic() - started
    report = render_report(
        base_side,
        agentry_side,
        drivers_cpu,
        figures(args.model_ms / 1000, args.concurrency, args.slow_concurrency),
        [
            f"Command: `{command}` ({'quick mode, ' if args.quick else ''}"
            f"{elapsed:.0f} s in all, the stack's start and stop included).  ",
            f"Machine: {machine()}.  ",
            f"Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; load average "
            f"(1/5/15 min) {load_text(load_before)} at the start, "
            f"{load_text(os.getloadavg())} at the end.",
        ],
        args.gap,
        args.model_ms / 1000,
        args.completion,
        args.model_turns,
    )
    return report


async def measure(
    args: argparse.Namespace, n: dict[str, int]
) -> tuple[Side, Side, dict[str, float]]:
    base = Path(tempfile.mkdtemp(prefix="agentry-bench-overhead-"))
    running: RunningStack | None = None
    done = False
    try:
        pools_file = bench_pools(base / "pools.yaml", args.model_turns)
        pool = PoolCatalog.load(pools_file).get("default")
        assert pool is not None
        logger.info("starting the stack in %s", base)
        running = await asyncio.wait_for(
            start_stack(base / "stack", AGENTS_DIR, pools_file=pools_file, embedded_models=False),
            STACK_START_TIMEOUT,
        )
        settings = running.settings
        client = await connect_temporal(settings)
        queue = f"bench-overhead-{uuid.uuid4().hex[:8]}"
        limits = WorkerLimits(pool.max_concurrent_workflow_tasks, pool.max_concurrent_activities)
        with baseline_worker(settings.temporal_address, client.namespace, queue, limits) as pid:
            roots = {**stack_roots(running), pid: "baseline worker"}
            # below each tenant's cap, so that no submit is queued for a slot
            most = max(args.concurrency, args.slow_concurrency)
            tenants = most // max(1, settings.tenant_max_concurrent_tasks - 1) + 1
            clients = await tenant_clients(running, "overhead", tenants)
            try:
                agentry = AgentryDriver(AGENT, clients, running.scripted, client, args.completion)
                baseline = BaselineDriver(client, queue)
                measured = await phases(args, n, roots, client, baseline, agentry)
                done = True
                return measured
            finally:
                for api in clients:
                    await api.aclose()
    finally:
        if running is not None:
            logger.info("stopping the stack")
            await stop_stack(running)
        if done:
            shutil.rmtree(base, ignore_errors=True)
        else:
            logger.warning("the run failed; the stack's logs are kept in %s", base / "stack")


def stack_roots(running: RunningStack) -> dict[int, str]:
    """pid → process kind of each process the stack started (their children come with them)."""
    roots: dict[int, str] = {}
    for name, child in running.stack.children.items():
        if child.pid is not None:
            roots[child.pid] = STACK_KINDS.get(name, name)
    fleet = running.stack.fleet
    assert fleet is not None
    for pool in PoolCatalog.load(running.settings.pools_file):
        roots.update({w.pid: "worker" for w in fleet.workers(pool.name) if w.pid is not None})
    return roots


async def phases(
    args: argparse.Namespace,
    n: dict[str, int],
    roots: dict[int, str],
    client: Client,
    baseline: BaselineDriver,
    agentry: AgentryDriver,
) -> tuple[Side, Side, dict[str, float]]:
    sampler = MemorySampler(roots, NEEDLES)
    sampling = asyncio.create_task(sampler.run())
    sides: dict[str, Driver] = {"baseline": baseline, "Agentry": agentry}
    measured: dict[str, dict[str, Any]] = {name: {} for name in sides}
    drivers_cpu: dict[str, float] = {}
    gap_label = f"{args.gap:g} s apart"
    try:
        for name, driver in sides.items():
            sampler.label = name
            await timed(f"{name}: warm-up", one_by_one(driver, await _jobs(driver, n["warmup"]), 0))
        for schedule, gap in (("back-to-back", 0.0), (gap_label, args.gap)):
            for name, driver in sides.items():
                sampler.label = name
                jobs = await _jobs(driver, n["one_at_a_time"])
                runs = await timed(
                    f"{name}: one at a time, {schedule}", one_by_one(driver, jobs, gap)
                )
                measured[name][schedule] = await driver.settle(runs)
        for name, driver in sides.items():
            sampler.label = name
            jobs = await _jobs(driver, n["tasks"])
            before, driver_before = _cpu_now(roots), time.process_time()
            runs, seconds = await timed(
                f"{name}: {args.concurrency} in flight", in_flight(driver, jobs, args.concurrency)
            )
            measured[name]["cpu"] = cpu_delta(before, _cpu_now(roots))
            drivers_cpu[name] = (time.process_time() - driver_before) * 1000
            measured[name]["loaded"] = (await driver.settle(runs), seconds)
        for name, driver in sides.items():
            sampler.label = name
            jobs = await _jobs(driver, n["slow_tasks"], args.model_ms / 1000)
            runs, _ = await timed(
                f"{name}: model {args.model_ms:g} ms, {args.slow_concurrency} in flight",
                in_flight(driver, jobs, args.slow_concurrency),
            )
            measured[name]["slow"] = await driver.settle(runs)
    finally:
        sampling.cancel()
    built = [
        await _side(name, measured[name], client, sampler, gap_label)
        for name in ("baseline", "Agentry")
    ]
    return built[0], built[1], drivers_cpu


async def _jobs(driver: Driver, count: int, model_seconds: float = 0.0) -> list[Any]:
    return await driver.prepare(count, model_seconds)


async def timed(what: str, phase: Awaitable[T]) -> T:
    started = time.monotonic()
    result = await asyncio.wait_for(phase, PHASE_TIMEOUT)
    logger.info("%s: %.1f s", what, time.monotonic() - started)
    return result


def _cpu_now(roots: dict[int, str]) -> dict[str, float]:
    return cpu_ms_by_kind(*classify(roots, NEEDLES))


async def _side(
    name: str, measured: dict[str, Any], client: Client, sampler: MemorySampler, gap_label: str
) -> Side:
    counted = AGENTRY_KINDS if name == "Agentry" else BASELINE_KINDS
    run_ms: dict[str, list[float]] = {}
    stats = []
    for schedule in ("back-to-back", gap_label):
        runs: list[TaskRun] = measured[schedule]
        read = [await _history(client, r.workflow_id) for r in runs]
        run_ms[schedule] = [s.run_ms for s in read]
        stats += read
    loaded, seconds = measured["loaded"]
    peaks = {kind: sampler.peaks.of(name, kind) for kind in counted}
    return Side(
        name=name,
        back_to_back=measured["back-to-back"],
        spaced=measured[gap_label],
        run_ms=run_ms,
        history=summarize(stats),
        loaded=loaded,
        loaded_seconds=seconds,
        cpu_ms=measured["cpu"],
        counted=counted,
        slow=measured["slow"],
        peaks_kib=peaks,
    )


async def _history(client: Client, workflow_id: str) -> Any:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return history_stats(list(history.events))
