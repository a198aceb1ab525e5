"""Memory per task parked in an approval wait (issue 13: 10,000 parked tasks cost ≤ 50 KiB each
across all processes).

Per worker cache size asked for: a fresh embedded stack (tests/stack.py) with the `default`
pool as production declares it (bench/overhead_pools.py); `--warmup` tasks of the
`bench-parked` agent park first, then, settled, the first snapshot; then `--tasks` more park,
then, settled, the second. Each task's one model call asks for `write_file`, which the agent's
policy holds for approval, and nobody decides: the stack is stopped and its data dir removed.
Memory is read from /proc (bench/proc_stats.py), sizes on disk from Postgres and the file
system; the report is bench/parked_report.py.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import httpx

from activities.db.tenant_caps import WAITING_STEP
from bench import load_text, machine
from bench.overhead import AGENTS_DIR, NEEDLES, stack_roots
from bench.overhead_pools import bench_pools
from bench.parked_decisions import connect_database, decide
from bench.parked_report import Run, Snapshot, render
from bench.proc_stats import MemorySampler, classify
from bench.tenant_clients import tenant_clients
from services.devstack.temporal import TEMPORAL_DYNAMIC_CONFIG, temporal_db
from services.settings import Settings
from tests.fakes.script_client import reply_tool_calls, unique_key
from tests.stack import RunningStack, start_stack, stop_stack

logger = logging.getLogger(__name__)

NAME = "parked"
TITLE = "Memory per task parked in an approval wait"
AGENT = "bench-parked"
WRITE = {"path": "out/report.txt", "content": "x"}  # always held (the policy)
STACK_START_TIMEOUT = 300.0
POLL_SECONDS = 1.0
TEMPORAL_CACHE = "history.hostLevelCacheMaxSize"  # workflows' mutable state kept in memory
STALL_SECONDS = 300.0  # no task parked for this long fails the run
# option → (default, quick)
SIZES = {"tasks": (10_000, 500), "warmup": (50, 20), "settle": (30, 15)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="500 tasks: under 3 minutes")
    parser.add_argument("--tasks", type=int, default=None, help="measured: 10,000 (quick 500)")
    parser.add_argument("--warmup", type=int, default=None, help="parked first: 50 (quick 20)")
    parser.add_argument(
        "--settle", type=float, default=None, help="seconds before each snapshot: 30 (quick 15)"
    )
    parser.add_argument("--tenants", type=int, default=10, help="tasks go round-robin over them")
    parser.add_argument(
        "--window", type=int, default=40, help="tasks submitted and not yet parked, at most"
    )
    parser.add_argument(
        "--worker-cache",
        default=str(Settings.model_fields["worker_max_cached_workflows"].default),
        help="comma-separated worker_max_cached_workflows values, a fresh stack for each",
    )
    parser.add_argument(
        "--decide",
        type=int,
        default=0,
        metavar="K",
        help="then approve the K tasks parked first and the K parked last, timing each",
    )
    parser.add_argument(
        "--temporal-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dynamic config value of the dev server instead of the stack's (repeatable)",
    )


def sizes(args: argparse.Namespace) -> dict[str, float]:
    chosen: dict[str, float] = {}
    for option, (default, quick) in SIZES.items():
        given = getattr(args, option)
        chosen[option] = given if given is not None else quick if args.quick else default
    if chosen["tasks"] < 1 or chosen["warmup"] < 0 or chosen["settle"] < 0:
        raise SystemExit(f"{NAME}: bad options {chosen}")
    if args.tenants < 1 or args.window < 1:
        raise SystemExit(f"{NAME}: --tenants and --window must be at least 1")
    return chosen


def worker_caches(args: argparse.Namespace) -> list[int]:
    try:
        caches = [int(v) for v in str(args.worker_cache).split(",") if v.strip()]
    except ValueError as e:
        raise SystemExit(f"{NAME}: bad --worker-cache {args.worker_cache!r}") from e
    if not caches or min(caches) < 0:
        raise SystemExit(f"{NAME}: bad --worker-cache {args.worker_cache!r}")
    return caches


async def run(args: argparse.Namespace, command: str) -> str:
    n = sizes(args)
    # a variant of the dev server's dynamic config (read when the stack starts it)
    TEMPORAL_DYNAMIC_CONFIG.update(dict(text.split("=", 1) for text in args.temporal_config))
    started, load_before = time.monotonic(), os.getloadavg()
    runs = [await measure(args, n, cache) for cache in worker_caches(args)]
    runs[0].header[:] = [
        f"Command: `{command}` ({'quick mode, ' if args.quick else ''}"
        f"{time.monotonic() - started:.0f} s in all, the stacks' starts and stops included).  ",
        f"Machine: {machine()}.  ",
        f"Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; load average "
        f"(1/5/15 min) {load_text(load_before)} at the start, {load_text(os.getloadavg())} "
        "at the end (other work shares the machine).",
    ]
    return render(runs)


async def measure(args: argparse.Namespace, n: dict[str, float], cache: int) -> Run:
    base = Path(tempfile.mkdtemp(prefix="agentry-bench-parked-"))
    running: RunningStack | None = None
    try:
        pools_file = bench_pools(base / "pools.yaml")
        logger.info("cache %d: starting the stack in %s", cache, base)
        running = await asyncio.wait_for(
            start_stack(
                base / "stack",
                AGENTS_DIR,
                pools_file=pools_file,
                embedded_models=False,
                worker_max_cached_workflows=cache,
            ),
            STACK_START_TIMEOUT,
        )
        return await park(running, args, n, cache)
    finally:
        if running is not None:
            logger.info("stopping the stack")
            await stop_stack(running)
        shutil.rmtree(base, ignore_errors=True)


async def park(
    running: RunningStack, args: argparse.Namespace, n: dict[str, float], cache: int
) -> Run:
    roots = stack_roots(running)
    marker = await running.scripted.script(
        unique_key("parked"),
        [],
        # every call of every task gets the same reply: one write_file call, held for approval
        model_replies={"scripted": reply_tool_calls([("write_file", WRITE)])},
    )
    clients = await tenant_clients(running, "parked", args.tenants)
    try:
        cold = await snapshot(running, roots)
        warmup, tasks = int(n["warmup"]), int(n["tasks"])
        await submit_all(running, clients, marker, warmup, 0, args.window)
        await settle(n["settle"])
        before = await snapshot(running, roots)
        started = time.monotonic()
        await submit_all(running, clients, marker, tasks, warmup, args.window)
        park_seconds = time.monotonic() - started
        await settle(n["settle"])
        after = await snapshot(running, roots)
        waited = await waited_for_admission(running.settings)
        decisions = await decide(running, args.decide) if args.decide > 0 else []
    finally:
        for api in clients:
            await api.aclose()
    if after.parked != warmup + tasks:
        raise RuntimeError(f"{after.parked} tasks parked, not {warmup + tasks}")
    return Run(
        tasks=tasks,
        warmup=warmup,
        tenants=args.tenants,
        window=args.window,
        park_seconds=park_seconds,
        settle_seconds=n["settle"],
        worker_cache=cache,
        temporal_cache=TEMPORAL_DYNAMIC_CONFIG.get(TEMPORAL_CACHE, "8096 (its default)"),
        cold=cold,
        before=before,
        after=after,
        waited_for_admission=waited,
        decisions=decisions,
    )


async def submit_all(
    running: RunningStack,
    clients: Sequence[httpx.AsyncClient],
    marker: str,
    count: int,
    already: int,
    window: int,
) -> None:
    """Submit `count` tasks round-robin over the clients, with at most `window` of them not
    yet parked, and return once all of them (and the `already` parked ones) are parked."""
    goal, submitted = already + count, 0
    turn = itertools.cycle(clients)
    parked, last_change, progress_at = already, time.monotonic(), time.monotonic()
    while parked < goal:
        room = min(goal - already - submitted, window - (already + submitted - parked))
        if room > 0:
            posts = [_submit(next(turn), marker) for _ in range(room)]
            await asyncio.gather(*posts)
            submitted += room
        await asyncio.sleep(POLL_SECONDS if room <= 0 else 0.1)
        now_parked = await count_parked(running.settings)
        if now_parked != parked:
            parked, last_change = now_parked, time.monotonic()
        elif time.monotonic() - last_change > STALL_SECONDS:
            raise RuntimeError(f"no task parked for {STALL_SECONDS:.0f} s ({parked}/{goal})")
        if time.monotonic() - progress_at > 30:
            logger.info("%d/%d tasks parked", parked - already, count)
            progress_at = time.monotonic()


async def _submit(api: httpx.AsyncClient, marker: str) -> None:
    answer = await api.post("/v1/tasks", json={"agent": AGENT, "input": f"Write. {marker}"})
    if answer.status_code != 201:
        raise RuntimeError(f"POST /v1/tasks: {answer.status_code} {answer.text[:300]}")


async def settle(seconds: float) -> None:
    logger.info("settling for %.0f s", seconds)
    await asyncio.sleep(seconds)


async def count_parked(settings: Settings) -> int:
    """Tasks in waiting_approval; a connection of its own, closed at once, so that no backend
    of the harness is left for the snapshots to count."""
    connection = await connect_database(settings)
    try:
        found = await connection.fetchval(
            "SELECT count(*) FROM tasks WHERE status = 'waiting_approval'"
        )
        return int(found)
    finally:
        await connection.close()


async def waited_for_admission(settings: Settings) -> int:
    connection = await connect_database(settings)
    try:
        found = await connection.fetchval(
            "SELECT count(DISTINCT task_id) FROM task_events WHERE step_key = $1", WAITING_STEP
        )
        return int(found)
    finally:
        await connection.close()


async def snapshot(running: RunningStack, roots: dict[int, str]) -> Snapshot:
    settings = running.settings
    connection = await connect_database(settings)
    try:
        database = int(await connection.fetchval("SELECT pg_database_size('agentry')"))
    finally:
        await connection.close()
    parked = await count_parked(settings)
    await asyncio.sleep(0.5)  # the harness's backends have exited
    sampler = MemorySampler(roots, NEEDLES)
    memory = await asyncio.to_thread(sampler.sample)
    _, kinds = classify(roots, NEEDLES)
    db = temporal_db(settings)
    temporal = sum(p.stat().st_size for p in db.parent.glob(f"{db.name}*") if p.is_file())
    logger.info("snapshot: %d parked, %s", parked, dict(Counter(kinds.values())))
    return Snapshot(memory, dict(Counter(kinds.values())), database, temporal, parked)
