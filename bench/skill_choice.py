"""What choosing skills costs a submit: POST /v1/tasks answered (201) for an agent that lets
the runtime choose skills (`scripted-skills`: its input embedded with all-MiniLM-L6-v2 and
matched against the skills' descriptions, in the gateway) against one that does not
(`scripted-native`), on the same fresh embedded stack (tests/stack.py), alternating the two so
drift hits both alike. Each task answers at once and is waited for before the next submit, so
every submit meets a quiet gateway. Also: the model's load time and resident memory, measured
in this process."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from activities.skills.embeddings import SentenceEncoder
from bench import Summary, machine
from bench.stacks import fresh_stack
from tests.fakes.script_client import reply_text, unique_key
from tests.integration.helpers import wait_for_status
from tests.stack import RunningStack

logger = logging.getLogger(__name__)

NAME = "skill-choice"
TITLE = "Skill choice at submit"
CHOOSING, PLAIN = "scripted-skills", "scripted-native"
INPUT = "My parcel arrived damaged. Can I send it back for a refund?"


@dataclass
class Result:
    choosing_ms: list[float]
    plain_ms: list[float]
    load_s: float
    resident_mb: float
    private_mb: float  # of resident_mb, the process's own (anonymous) pages; the rest is shared
    encode_ms: float  # one input, p50 of 30, in this process
    chosen: list[str]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", type=int, default=50, help="measured submits per agent")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured submits per agent")


async def run(args: argparse.Namespace, command: str) -> str:
    if args.tasks < 1 or args.warmup < 0:
        raise SystemExit(f"{NAME}: bad options (tasks {args.tasks}, warmup {args.warmup})")
    load_s, resident_mb, private_mb, encode_ms = model_cost()
    result = await measure(args.tasks, args.warmup, load_s, resident_mb, private_mb, encode_ms)
    return render(result, command)


def model_cost() -> tuple[float, float, float, float]:
    """Seconds to load (sha256 checks included), MiB resident it adds (all, and the process's
    own: the rest are pages of the mapped model file, shared by every process that maps it),
    and ms to encode one input (p50 of 30), in this process."""
    before, private_before = _resident_mb(), _resident_mb("RssAnon")
    started = time.monotonic()
    encoder = SentenceEncoder.load(Path(os.environ.get("AGENTRY_PACKAGES_DIR", _packages())))
    load_s = time.monotonic() - started
    encoder.encode([INPUT])
    resident, private = _resident_mb() - before, _resident_mb("RssAnon") - private_before
    times = []
    for _ in range(30):
        started = time.perf_counter()
        encoder.encode([INPUT])
        times.append((time.perf_counter() - started) * 1000)
    return load_s, resident, private, Summary.of(times).p50


def _packages() -> str:
    from services.settings import Settings

    return str(Settings(_env_file=None).packages_dir)


def _resident_mb(field: str = "VmRSS") -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        line = next(row for row in status if row.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


async def measure(
    tasks: int,
    warmup: int,
    load_s: float,
    resident_mb: float,
    private_mb: float,
    encode_ms: float,
) -> Result:
    choosing: list[float] = []
    plain: list[float] = []
    chosen: list[str] = []
    async with fresh_stack(NAME) as running, running.api() as api:
        for i in range(warmup + tasks):
            ms_choosing, used = await one_submit(running, api, CHOOSING)
            ms_plain, _ = await one_submit(running, api, PLAIN)
            if i >= warmup:
                choosing.append(ms_choosing)
                plain.append(ms_plain)
                chosen = used
    return Result(choosing, plain, load_s, resident_mb, private_mb, encode_ms, chosen)


async def one_submit(
    running: RunningStack, api: httpx.AsyncClient, agent: str
) -> tuple[float, list[str]]:
    """The submit's time in ms, and the skills the task got; the task is waited for."""
    key = unique_key("bench-skills")
    marker = await running.scripted.script(key, [reply_text("Done.")])
    started = time.perf_counter()
    created = await api.post("/v1/tasks", json={"agent": agent, "input": f"{INPUT} {marker}"})
    elapsed = (time.perf_counter() - started) * 1000
    if created.status_code != 201:
        raise RuntimeError(f"POST /v1/tasks ({agent}): {created.status_code} {created.text}")
    task = created.json()
    await wait_for_status(api, task["id"])
    await running.scripted.forget(key)
    return elapsed, [f"{use['name']}@{use['version']}" for use in task["skills_used"]]


def render(result: Result, command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    choosing, plain = Summary.of(result.choosing_ms), Summary.of(result.plain_ms)
    lines = [
        f"Command: `{command}`.  ",
        f"Machine: {machine()}.  ",
        f"Date: {now}.",
        "",
        "POST /v1/tasks until its 201, for an agent that chooses skills from its input "
        f"(`{CHOOSING}`, which got {', '.join(result.chosen) or 'none'}) and one that does not "
        f"(`{PLAIN}`), {choosing.n} of each, alternating, each task finished before the next "
        "submit. ms.",
        "",
        "| agent | p50 | p90 | p99 | max |",
        "|---|---:|---:|---:|---:|",
        f"| chooses skills | {choosing.p50:.1f} | {choosing.p90:.1f} | {choosing.p99:.1f} "
        f"| {choosing.max:.1f} |",
        f"| no skills (baseline) | {plain.p50:.1f} | {plain.p90:.1f} | {plain.p99:.1f} "
        f"| {plain.max:.1f} |",
        f"| ratio | {choosing.p50 / plain.p50:.2f}× | {choosing.p90 / plain.p90:.2f}× | "
        f"{choosing.p99 / plain.p99:.2f}× | |",
        "",
        f"The embedding model loads in {result.load_s:.2f} s (both sha256 checks included) and "
        f"adds {result.resident_mb:.0f} MiB resident to the process that loads it, "
        f"{result.private_mb:.0f} MiB of it its own (the rest are pages of the memory-mapped "
        "model file, shared by every process that maps it): the gateway when an agent chooses "
        "skills, a worker only when such an agent is a sub-agent. One "
        f"input encodes in {result.encode_ms:.1f} ms p50 in this process; the rest of the "
        "difference is the gateway's hop to a thread and back and the choice itself.",
    ]
    return "\n".join(lines) + "\n"
