"""Long tasks: how much of each prompt repeats the previous prompt's prefix (the share a
model server's prefix cache can reuse) over a task whose memory is summarised, and how big its
Temporal history grows per run and per iteration.

One embedded stack (tests/stack.py) with the scripted model, which tokenizes like llama.cpp
and reports `cached_tokens` = the common token prefix with the previous prompt of the same
task. The agent is tests/agents/scripted-memory.yaml (summaries above 1,200 prompt tokens,
2 turns kept verbatim); each turn asks for one calculator call.
Baseline, in the same run: the same agent with `memory: null` over as many turns as fit its
model without summaries (prompts only grow, so nearly all of each prompt is a reused prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench import ROOT, machine
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, unique_key
from tests.stack import RunningStack, start_stack, stop_stack
from workflows import policies

logger = logging.getLogger(__name__)

NAME = "long-task"
TITLE = "Long tasks: prefix reuse and history growth"
AGENT, BASELINE_AGENT = "scripted-memory", "bench-no-memory"
SUMMARY = reply_text("Summary: the agent added numbers; all results so far were correct.")
TARGET_REUSE = 0.90
TASK_TIMEOUT = 900.0
RUN_ITERATIONS = policies.CONTINUE_AS_NEW_AFTER_ITERATIONS


@dataclass
class Run:
    agent: str
    turns: int
    prompts: list[dict[str, Any]]  # per model call of the agent: prompt_tokens, cached_tokens
    summaries: int
    history_bytes: list[int]  # per Temporal run, oldest first

    @property
    def reuse(self) -> float:
        """Cached share of each prompt after the first, averaged over the task."""
        shares = [float(p["cached_tokens"]) / float(p["prompt_tokens"]) for p in self.prompts[1:]]
        return sum(shares) / len(shares)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--turns", type=int, default=50, help="turns of the prefix-reuse task")
    parser.add_argument("--long-turns", type=int, default=300, help="turns of the history task")
    parser.add_argument("--baseline-turns", type=int, default=100, help="turns without memory")


async def run(args: argparse.Namespace, command: str) -> str:
    base = Path(tempfile.mkdtemp(prefix="agentry-bench-long-"))
    extra = base / "extra-agents"
    extra.mkdir()
    spec = yaml.safe_load((ROOT / "tests" / "agents" / f"{AGENT}.yaml").read_text())
    spec.update(name=BASELINE_AGENT, memory=None)
    (extra / f"{BASELINE_AGENT}.yaml").write_text(yaml.safe_dump(spec))
    running = await start_stack(base / "stack", extra_agents=extra)
    try:
        runs = [
            await one_task(running, AGENT, args.turns),
            await one_task(running, BASELINE_AGENT, args.baseline_turns),
            await one_task(running, AGENT, args.long_turns),
        ]
    finally:
        await stop_stack(running)
    shutil.rmtree(base, ignore_errors=True)
    report = render(runs, command)
    return report


async def one_task(running: RunningStack, agent: str, turns: int) -> Run:
    key = unique_key("long")
    calls = [
        reply_text(
            "<tool_call>"
            + json.dumps({"name": "calculator", "arguments": {"expression": f"{i}+{i}"}})
            + "</tool_call>"
        )
        for i in range(turns - 1)
    ]
    marker = await running.scripted.script(
        key, [*calls, reply_text("done")], {"scripted-small": SUMMARY}
    )
    async with running.api() as api:
        created = await api.post("/v1/tasks", json={"agent": agent, "input": f"Add. {marker}"})
        created.raise_for_status()
        task_id = created.json()["id"]
        task = await _finished(api, task_id)
        if task["status"] != "succeeded":
            raise RuntimeError(f"{agent}: task {task_id} ended {task['status']}: {task['error']}")
        transcript = (await api.get(f"/v1/tasks/{task_id}/messages")).json()["items"]
    prompts = [p for p in await running.scripted.prompts(key) if p["model"] == "scripted"]
    logger.info("%s: %d turns done", agent, turns)
    return Run(
        agent,
        turns,
        prompts,
        summaries=sum(1 for m in transcript if m["kind"] == "summary"),
        history_bytes=await _history_bytes(running, task_id),
    )


async def _finished(api: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    for _ in range(int(TASK_TIMEOUT / 0.2)):
        task: dict[str, Any] = (await api.get(f"/v1/tasks/{task_id}")).json()
        if task["status"] in ("succeeded", "failed", "cancelled"):
            return task
        await asyncio.sleep(0.2)
    raise RuntimeError(f"task {task_id} did not finish in {TASK_TIMEOUT:.0f}s")


async def _history_bytes(running: RunningStack, task_id: str) -> list[int]:
    client = await connect_temporal(running.settings)
    workflow_id = f"task-{task_id}"
    runs = [r.run_id async for r in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    sizes = []
    for run_id in reversed(runs):  # the list is newest first
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        sizes.append(len(history.to_json().encode()))
    return sizes


def render(runs: list[Run], command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    short, baseline, long = runs
    lines = [
        f"Command: `{command}`.  ",
        f"Machine: {machine()}.  ",
        f"Date: {now}.",
        "",
        "**Prefix reuse** is, for each prompt after the first, the share of its tokens that "
        "repeat the previous prompt's prefix (the scripted server counts it as llama.cpp and "
        "SGLang report `cached_tokens`), averaged over the task. Target: ≥ "
        f"{TARGET_REUSE:.0%} with summaries. Baseline: the same agent without memory, which "
        "never rewrites its prompt (and fails once the prompt no longer fits its model).",
        "",
        "| task | turns | summaries | prefix reuse | max prompt tokens | mean prompt tokens "
        "| target met |",
        "|---|---|---|---|---|---|---|",
    ]
    labelled = (
        ("with memory", short),
        ("baseline, no memory", baseline),
        ("with memory, long", long),
    )
    for label, r in labelled:
        tokens = [p["prompt_tokens"] for p in r.prompts]
        met = "yes" if r.reuse >= TARGET_REUSE else "no"
        lines.append(
            f"| {label} | {r.turns} | {r.summaries} | {r.reuse:.1%} | {max(tokens)} | "
            f"{sum(tokens) / len(tokens):.0f} | {met if r is not baseline else '–'} |"
        )
    ratio = short.reuse / baseline.reuse
    lines += [
        "",
        f"Prefix reuse with memory ÷ baseline = **{ratio:.2f}** (same run).",
        "",
        "**History per Temporal run** (the task continues as new every 50 iterations): bytes "
        "of each run's history as JSON, and per iteration. With summaries the workflow's list "
        "of message ids stays short, so later runs are no bigger than the first; without "
        "them every activity input carries a longer list.",
        "",
        "| task | runs | bytes per run | bytes per iteration, run by run |",
        "|---|---|---|---|",
    ]
    for label, r in (("with memory, long", long), ("baseline, no memory", baseline)):
        count = len(r.history_bytes)
        iterations = [RUN_ITERATIONS] * (count - 1) + [r.turns - RUN_ITERATIONS * (count - 1)]
        per_iteration = (b / n for b, n in zip(r.history_bytes, iterations, strict=True))
        lines.append(
            f"| {label}, {r.turns} turns | {count} | "
            f"{', '.join(f'{b / 1024:.0f} KiB' for b in r.history_bytes)} | "
            f"{', '.join(f'{b:.0f}' for b in per_iteration)} |"
        )
    return "\n".join(lines) + "\n"
