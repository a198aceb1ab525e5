"""Model server's first token → SSE client: how long after the model server sends a turn's
first token a client following the task's stream (GET /v1/tasks/{id}/stream) receives it as a
`delta` event.

A fresh embedded stack (tests/stack.py), a few warm-up tasks, then N measured tasks one at a
time, and N more in rounds of `--parallel` at once (each with its own stream). Each task's one
turn is a scripted reply streamed a word at a time; the scripted model server notes the wall
clock just before it sends the first word (`/_scripts/{key}/first_tokens`), the client notes it
when the first `delta` line arrives. The reply waits `REPLY_DELAY_S` before its first chunk, so
the client is already following the stream when the model starts.

The path: scripted server → LiteLLM proxy → worker (the model call's stream, activities/
chat_completions.py) → pg_notify (activities/turn_deltas.py) → the gateway's LISTEN connection
(task_feed.py) → the task's SSE response → the client. As a baseline the same reply is streamed
straight from the proxy to this process: what LiteLLM's hop costs, which Agentry cannot go under.
Both clocks are this machine's CLOCK_REALTIME (`time.time()` in both processes).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import time
from dataclasses import dataclass

import httpx

from activities.turn_deltas import FLUSH_SECONDS
from bench import Summary, load_text, machine, percentile
from bench.stacks import fresh_stack
from tests.fakes.script_client import reply_text, unique_key
from tests.stack import RunningStack

logger = logging.getLogger(__name__)

NAME = "first-token"
TITLE = "Model's first token → SSE client"
AGENT = "scripted-native"
MODEL = "scripted"
TARGET_P50_MS = 100.0
STEP_TIMEOUT = 60.0
REPLY_DELAY_S = 0.5  # before the first chunk: the client is following by then
CHUNK_DELAY_S = 0.01  # between chunks, ~100 words a second
WORDS = 24


@dataclass
class Result:
    stream_ms: list[float]  # first token sent → first delta at the SSE client, one at a time
    proxy_ms: list[float]  # first token sent → first content chunk straight from LiteLLM
    parallel: int
    parallel_ms: list[float]  # as stream_ms, `parallel` tasks at once
    deltas: list[int]  # delta events (= notifications) per turn, one at a time
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", type=int, default=100, help="measured tasks")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured tasks first")
    parser.add_argument("--parallel", type=int, default=8, help="tasks at once, second phase")


async def run(args: argparse.Namespace, command: str) -> str:
    if args.tasks < 1 or args.warmup < 0 or args.parallel < 1:
        raise SystemExit(f"{NAME}: bad options (tasks {args.tasks}, warmup {args.warmup})")
    result = await measure(args.tasks, args.warmup, args.parallel)
    report = render(result, command)
    return report


async def measure(tasks: int, warmup: int, parallel: int) -> Result:
    async with fresh_stack(NAME) as running:
        settings = running.settings
        proxy = httpx.AsyncClient(
            base_url=settings.litellm_url,
            headers={"Authorization": f"Bearer {settings.litellm_key.get_secret_value()}"},
            timeout=STEP_TIMEOUT,
        )
        async with running.api() as api, proxy:
            for _ in range(warmup):
                await one_task(running, api)
                await one_proxy_call(running, proxy)
            load = os.getloadavg()
            stream_ms, proxy_ms, deltas = [], [], []
            for i in range(tasks):
                ms, count = await one_task(running, api)
                stream_ms.append(ms)
                deltas.append(count)
                proxy_ms.append(await one_proxy_call(running, proxy))
                if (i + 1) % 10 == 0:
                    logger.info("%d/%d tasks measured", i + 1, tasks)
            parallel_ms: list[float] = []
            while len(parallel_ms) < tasks:
                at_once = min(parallel, tasks - len(parallel_ms))
                measured = await asyncio.gather(*(one_task(running, api) for _ in range(at_once)))
                parallel_ms += [ms for ms, _ in measured]
            logger.info("%d tasks measured, %d at once", tasks, parallel)
    return Result(stream_ms, proxy_ms, parallel, parallel_ms, deltas, load, os.getloadavg())


def _reply(key: str) -> str:
    return " ".join(f"word{i}" for i in range(WORDS)) + f" ({key})."


async def one_task(running: RunningStack, api: httpx.AsyncClient) -> tuple[float, int]:
    """First token sent → first delta received, in ms, for one task; and its delta events."""
    key = unique_key("bench-token")
    reply = reply_text(_reply(key), delay_s=REPLY_DELAY_S, chunk_delay_s=CHUNK_DELAY_S)
    marker = await running.scripted.script(key, [reply])
    created = await api.post("/v1/tasks", json={"agent": AGENT, "input": f"talk {marker}"})
    _expect(created, 201)
    task_id = created.json()["id"]
    received: float | None = None
    count = 0
    async with api.stream("GET", f"/v1/tasks/{task_id}/stream", timeout=STEP_TIMEOUT) as stream:
        _expect(stream, 200)
        async for line in stream.aiter_lines():
            if line == "event: delta":
                received = received or time.time()
                count += 1
            elif line == "event: end":
                break
    [sent] = await running.scripted.first_tokens(key)
    await running.scripted.forget(key)
    if received is None:
        raise RuntimeError(f"task {task_id}: no delta reached the stream")
    return (received - sent) * 1000, count


async def one_proxy_call(running: RunningStack, proxy: httpx.AsyncClient) -> float:
    """The baseline: first token sent → first content chunk read straight from LiteLLM."""
    key = unique_key("bench-proxy")
    reply = reply_text(_reply(key), delay_s=0.05, chunk_delay_s=CHUNK_DELAY_S)
    marker = await running.scripted.script(key, [reply])
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"talk {marker}"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    received: float | None = None
    async with proxy.stream("POST", "/v1/chat/completions", json=body) as stream:
        _expect(stream, 200)
        async for line in stream.aiter_lines():
            if received is None and '"content":"word0' in line.replace(" ", ""):
                received = time.time()
    [sent] = await running.scripted.first_tokens(key)
    await running.scripted.forget(key)
    if received is None:
        raise RuntimeError("the proxy streamed no first word")
    return (received - sent) * 1000


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: {response.status_code}"
        )


def render(result: Result, command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    total, proxy = Summary.of(result.stream_ms), Summary.of(result.proxy_ms)
    own = Summary.of([s - p for s, p in zip(result.stream_ms, result.proxy_ms, strict=True)])
    crowded = Summary.of(result.parallel_ms)
    met = "yes" if total.p50 <= TARGET_P50_MS else "**no**"
    lines = [
        f"Command: `{command}` (`make bench` runs every benchmark with its defaults).  ",
        f"Machine: {machine()}.  ",
        f"Date: {now}.",
        "",
        "**Latency** is the time from the moment the scripted model server sends a turn's first "
        "token (its wall clock just before the chunk is written) to the moment a client "
        "following the task's stream (`GET /v1/tasks/{id}/stream`) reads the first `delta` "
        "event: through the LiteLLM proxy, the worker's streamed model call, `pg_notify`, the "
        "gateway's LISTEN connection and the SSE response. **Proxy baseline** is the same first "
        "token read straight from the LiteLLM proxy by the harness (no Agentry in the path). "
        f"Each task is a single turn of {WORDS + 1} words streamed "
        f"{CHUNK_DELAY_S * 1000:.0f} ms apart; its client follows the stream before the model "
        f"starts. First one task at a time, then {result.parallel} at once (each with its own "
        "client). Both clocks are this machine's wall clock. All times in ms.",
        "",
        "| path | n | p50 | p90 | p99 | max |",
        "|---|---|---|---|---|---|",
        f"| model first token → SSE client | {total.n} | {total.p50:.1f} | {total.p90:.1f} "
        f"| {total.p99:.1f} | {total.max:.1f} |",
        f"| proxy baseline (model → LiteLLM → harness) | {proxy.n} | {proxy.p50:.1f} "
        f"| {proxy.p90:.1f} | {proxy.p99:.1f} | {proxy.max:.1f} |",
        f"| Agentry's part (latency − baseline, per task) | {own.n} | {own.p50:.1f} "
        f"| {own.p90:.1f} | {own.p99:.1f} | {own.max:.1f} |",
        f"| model first token → SSE client, {result.parallel} tasks at once | {crowded.n} "
        f"| {crowded.p50:.1f} | {crowded.p90:.1f} | {crowded.p99:.1f} | {crowded.max:.1f} |",
        "",
        f"Target p50 ≤ {TARGET_P50_MS:.0f} ms: {met} (p50 ÷ target = "
        f"**{total.p50 / TARGET_P50_MS:.2f}**; p99 ÷ target = {total.p99 / TARGET_P50_MS:.2f}; "
        f"{result.parallel} at once: p50 ÷ target = {crowded.p50 / TARGET_P50_MS:.2f}, "
        f"p99 ÷ target = {crowded.p99 / TARGET_P50_MS:.2f}).",
        "",
        f"Deltas per turn (one notification each): median {percentile(result.deltas, 50):.0f}"
        f" for {WORDS + 1} words written {CHUNK_DELAY_S * 1000:.0f} ms apart (the first word at "
        f"once, then at most one batch per {FLUSH_SECONDS * 1000:.0f} ms).",
        "",
        f"p99 is interpolated linearly between ranks (n = {total.n}). Other work on the machine "
        f"shows in the load average (1/5/15 min; {len(os.sched_getaffinity(0))} cores) at the "
        f"start → end of the measured phase: {load_text(result.load_before)} → "
        f"{load_text(result.load_after)}.",
    ]
    return "\n".join(lines) + "\n"
