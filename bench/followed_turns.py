"""What streaming only followed tasks saves, in one run: issue 13's job (bench/profile_task.py,
5 model calls + 4 tool calls) one task at a time, alternately with a client following its live
stream (every turn streamed, as every task was before) and with nobody following (the first
turn streamed, the others asked in one piece). Per group: the model turns' run time (from the
histories), the server-side task time, and the CPU per task of LiteLLM, the worker and the
stack (each task alone on the stack, so the CPU between its submit and a short settle after
its end is its own).

    .venv/bin/python -m bench.followed_turns --tasks 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import percentile
from bench import profile_stack as ps
from bench.profile_report import _history
from bench.profile_task import AGENT, AGENT_SPEC, TaskRun, _epoch, histories, script_for
from tests.fakes.script_client import unique_key
from tests.stack import start_stack, stop_stack

SETTLE_SECONDS = 0.3  # after a task's answer: LiteLLM's post-call work lands in its window


async def follow(api: httpx.AsyncClient, task_id: str) -> int:
    """Read the task's stream to its end, as a UI would; the deltas it got."""
    deltas = 0
    async with api.stream("GET", f"/v1/tasks/{task_id}/stream", timeout=60) as response:
        async for line in response.aiter_lines():
            if line == "event: delta":
                deltas += 1
            elif line == "event: end":
                break
    return deltas


async def one(running: Any, api: httpx.AsyncClient, n: int, followed: bool) -> dict[str, Any]:
    """One task (bench/profile_task.py's `run_task`), its stream followed from its submit on
    (as a UI does) or not."""
    key = unique_key("followed")
    marker = await running.scripted.script(key, script_for(n))
    before = ps.cpu_seconds()
    answer = await api.post("/v1/tasks", json={"agent": AGENT, "input": f"add {n} {marker}"})
    answer.raise_for_status()
    task = answer.json()
    follower = asyncio.create_task(follow(api, task["id"])) if followed else None
    while task["status"] in ("queued", "running"):
        read = await api.get(f"/v1/tasks/{task['id']}", params={"wait": 60})
        read.raise_for_status()
        task = read.json()
    deltas = await follower if follower is not None else 0
    await asyncio.sleep(SETTLE_SECONDS)
    cpu = ps.cpu_by_kind(before, ps.cpu_seconds())
    created, finished = (_epoch(task[k]) for k in ("created_at", "finished_at"))
    return {
        "task_id": task["id"],
        "key": key,
        "server_ms": (finished - created) * 1000,
        "followed": followed,
        "deltas": deltas,
        "cpu_s": cpu,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="agentry-followed-"))
    agents = base / "extra-agents"
    agents.mkdir()
    (agents / f"{AGENT}.yaml").write_text(AGENT_SPEC)
    running = await start_stack(base / "stack", extra_agents=agents, embedded_models=False)
    api = running.api()
    try:
        for i in range(args.warmup):
            await one(running, api, i, followed=bool(i % 2))
        tasks = [await one(running, api, i, followed=bool(i % 2)) for i in range(args.tasks)]
        found = await histories(running, [_run(t) for t in tasks])
        for t in tasks:
            requests = await running.scripted.requests(t["key"])
            t["streamed_calls"] = sum(bool(body.get("stream")) for body in requests)
    finally:
        await api.aclose()
        await stop_stack(running)
        shutil.rmtree(base, ignore_errors=True)
    report: dict[str, Any] = {"args": vars(args), "load_after": os.getloadavg()}
    for followed in (True, False):
        group = [t for t in tasks if t["followed"] == followed]
        read = [_history(found[t["task_id"]])[0] for t in group]
        turns = [v for h in read for v in h.activity_ran_ms.get("model_turn", [])]

        def cpu(kind: str, group: list[dict[str, Any]] = group) -> float:
            return 1000 * statistics.mean(t["cpu_s"].get(kind, 0.0) for t in group)

        report["followed" if followed else "unfollowed"] = {
            "tasks": len(group),
            "deltas_per_task": statistics.mean(t["deltas"] for t in group),
            "streamed_calls_per_task": statistics.mean(t["streamed_calls"] for t in group),
            "model_turn_ran_p50": percentile(turns, 50),
            "model_turn_ran_p90": percentile(turns, 90),
            "server_ms_p50": percentile([t["server_ms"] for t in group], 50),
            "cpu_ms_per_task": {
                kind: cpu(kind) for kind in ("LiteLLM", "worker (pool default)", "gateway")
            }
            | {"stack": 1000 * statistics.mean(sum(t["cpu_s"].values()) for t in group)},
        }
    return report


def _run(task: dict[str, Any]) -> TaskRun:
    return TaskRun(task["task_id"], 0.0, 0.0, 0.0, 0.0, task["server_ms"], "")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.followed_turns", description=__doc__)
    parser.add_argument("--tasks", type=int, default=40, help="alternately followed and not")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.monotonic()
    report = asyncio.run(run(args))
    report["seconds"] = time.monotonic() - started
    text = json.dumps(report, indent=1, default=str)
    if args.out:
        args.out.write_text(text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
