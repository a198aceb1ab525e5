"""Profile issue 13's job through the embedded stack: where the time, the CPU, the Postgres
statements and the memory of a task go. Writes raw material (JSON, py-spy stacks, the Postgres
statement log) to `--out`; docs/PROFILE.md reads it. Nothing here asserts anything.

    .venv/bin/python -m bench.profile_task --out /tmp/agentry-profile

The job: the scripted model (0 ms) asks for one calculator call per turn, four turns, then
answers: 5 model calls + 4 tool calls per task, through LiteLLM as production routes. Phases,
on one stack (tests/stack.py, with an agent of its own allowing the five turns):

1. warm-up tasks;
2. Postgres: `log_min_duration_statement = 0` for an idle window (the background's statements)
   and a few tasks one at a time, the statements attributed to processes (by the client port of
   each backend) and the worker's to the activity that ran when they came (history times);
3. one at a time, alternately right after the previous task's answer and `--gap` s later
   (the back-to-back effect), with every task's history;
4. LiteLLM's own hop: the same streamed completion straight from the scripted server and
   through the proxy, one at a time;
5. `--concurrent` tasks at once from 10 tenants: tasks/s, CPU per task per process, peak memory;
6. phase `pyspy` (not by default): phases 3 (back-to-back only) and 5 again, with py-spy
   recording the gateway, the pool `default` worker and LiteLLM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml

from bench import profile_stack as ps
from bench.profile_reading import PG_PREFIX
from services.devstack.temporal import TEMPORAL_DYNAMIC_CONFIG
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.stack import ROOT, RunningStack, start_stack, stop_stack
from workflows.contracts.tasks import workflow_id_for_task

logger = logging.getLogger(__name__)

AGENT = "profile-native"
AGENT_SPEC = """\
name: profile-native
description: Issue 13's job, scripted model, native tool calls.
model: scripted
tool_call_format: native
max_iterations: 8
tools: [calculator]
system_prompt: You are a test agent.
"""
TOOL_TURNS = 4
LITELLM_TEST_CONFIG = ROOT / "tests" / "litellm-test-config.yaml"
TENANTS = 10


@dataclass
class TaskRun:
    task_id: str
    gap_s: float  # how long after the previous task's answer it was submitted
    posted_at: float  # time.time() just before the POST
    post_ms: float  # the POST's own answer
    client_ms: float  # POST sent → final task read (GET ?wait)
    server_ms: float  # created_at → finished_at of the row
    status: str


def script_for(n: int) -> list[Any]:
    turns = [
        reply_tool_calls([("calculator", {"expression": f"{n}+{i}"})]) for i in range(TOOL_TURNS)
    ]
    return [*turns, reply_text(f"done {n}")]


async def run_task(running: RunningStack, api: httpx.AsyncClient, n: int, gap: float) -> TaskRun:
    marker = await running.scripted.script(unique_key("profile"), script_for(n))
    if gap:
        await asyncio.sleep(gap)
    posted_at, started = time.time(), time.perf_counter()
    answer = await api.post("/v1/tasks", json={"agent": AGENT, "input": f"add {n} {marker}"})
    answer.raise_for_status()
    post_ms = (time.perf_counter() - started) * 1000
    task = answer.json()
    while task["status"] in ("queued", "running"):
        # a wait shorter than the client's 30 s timeout: a slow burst asks again
        read = await api.get(f"/v1/tasks/{task['id']}", params={"wait": 25})
        read.raise_for_status()
        task = read.json()
    client_ms = (time.perf_counter() - started) * 1000
    created, finished = (_epoch(task[k]) for k in ("created_at", "finished_at"))
    return TaskRun(
        task["id"], gap, posted_at, post_ms, client_ms, (finished - created) * 1000, task["status"]
    )


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


async def one_at_a_time(
    running: RunningStack, api: httpx.AsyncClient, n: int, gaps: list[float]
) -> list[TaskRun]:
    """`n` tasks in turn, the i-th submitted gaps[i % len(gaps)] s after the previous answer."""
    return [await run_task(running, api, i, gaps[i % len(gaps)]) for i in range(n)]


async def at_once(
    running: RunningStack, apis: list[httpx.AsyncClient], n: int
) -> tuple[list[TaskRun], float]:
    started = time.perf_counter()
    runs = await asyncio.gather(*(run_task(running, apis[i % len(apis)], i, 0.0) for i in range(n)))
    return list(runs), time.perf_counter() - started


async def histories(running: RunningStack, runs: list[TaskRun]) -> dict[str, Any]:
    """task id → its history as JSON (read after the phase, so reading it costs the phase
    nothing)."""
    client = await connect_temporal(running.settings)
    found = {}
    for run in runs:
        history = await client.get_workflow_handle(
            workflow_id_for_task(run.task_id)
        ).fetch_history()
        found[run.task_id] = json.loads(history.to_json())
    return found


async def statement_log(
    running: RunningStack, api: httpx.AsyncClient, out: Path, tasks: int, idle: float
) -> dict[str, Any]:
    admin = await asyncpg.connect(
        host="127.0.0.1",
        port=running.settings.embedded_postgres_port,
        user="postgres",
        database="postgres",
    )
    log = running.settings.data_dir / "logs" / "postgres.log"

    async def logging_on(on: bool) -> None:
        await admin.execute(f"ALTER SYSTEM SET log_line_prefix = '{PG_PREFIX}'")
        await admin.execute(f"ALTER SYSTEM SET log_min_duration_statement = {0 if on else -1}")
        await admin.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(1.0)  # every backend reads the new setting at its next command

    try:
        await logging_on(True)
        offset = log.stat().st_size
        idle_from = time.time()
        await asyncio.sleep(idle)
        idle_to = time.time()
        runs = await one_at_a_time(running, api, tasks, [0.6])
        await asyncio.sleep(1.0)
        backends = await ps.backends_by_kind(admin)
        admin_pid = await admin.fetchval("SELECT pg_backend_pid()")
        await logging_on(False)
    finally:
        await admin.close()
    copy = out / "postgres-statements.log"
    with log.open("rb") as source:
        source.seek(offset)
        copy.write_bytes(source.read())
    return {
        "idle_window": [idle_from, idle_to],
        "runs": [asdict(r) for r in runs],
        "backends": {str(pid): kind for pid, kind in backends.items()},
        "harness_backend": admin_pid,
        "log": copy.name,
    }


async def proxy_hop(running: RunningStack, n: int, stream: bool = True) -> dict[str, list[float]]:
    """ms of one completion (streamed as the worker asks, or not) straight from the scripted
    server and through LiteLLM."""
    marker = await running.scripted.script(unique_key("hop"), [reply_text("ok")] * (2 * n + 2))
    body = {
        "model": "scripted",
        "messages": [{"role": "user", "content": f"hi {marker}"}],
    }
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    key = running.settings.litellm_key.get_secret_value()
    routes = {
        "direct": (running.scripted.base_url, running.settings.model_server_key.get_secret_value()),
        "litellm": (running.settings.litellm_url, key),
    }
    found: dict[str, list[float]] = {name: [] for name in routes}
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(n + 1):
            for name, (base, secret) in routes.items():
                started = time.perf_counter()
                async with http.stream(
                    "POST",
                    f"{base}/v1/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {secret}"},
                ) as response:
                    response.raise_for_status()
                    async for _ in response.aiter_bytes():
                        pass
                if i:  # the first of each is a warm-up
                    found[name].append((time.perf_counter() - started) * 1000)
    return found


async def measured_burst(
    running: RunningStack, apis: list[httpx.AsyncClient], n: int
) -> dict[str, Any]:
    worker = ps.first_pid("worker (pool default)")
    threads_before, before = ps.thread_cpu(worker), ps.cpu_seconds()
    peak = ps.PeakMemory()
    sampling = asyncio.create_task(peak.run())
    try:
        runs, seconds = await at_once(running, apis, n)
    finally:
        sampling.cancel()
    after, threads_after = ps.cpu_seconds(), ps.thread_cpu(worker)
    return {
        "runs": [asdict(r) for r in runs],
        "seconds": seconds,
        "cpu_s": ps.cpu_by_kind(before, after),
        "worker_threads_cpu_s": {
            k: v - threads_before.get(k, 0.0) for k, v in threads_after.items()
        },
        "peak_pss": peak.pss,
        "peak_rss": peak.rss,
        "peak_stack_pss": peak.stack_pss,
        "peak_stack_rss": peak.stack_rss,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="agentry-profile-"))
    agents = base / "extra-agents"
    agents.mkdir()
    (agents / f"{AGENT}.yaml").write_text(AGENT_SPEC)
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    overrides: dict[str, Any] = {"embedded_models": False}  # the job needs only the scripted model
    if args.litellm_setting:  # a variant of the test stack's LiteLLM config
        config = yaml.safe_load(LITELLM_TEST_CONFIG.read_text())
        config["litellm_settings"].update(dict(_setting(text) for text in args.litellm_setting))
        overrides["litellm_config"] = base / "litellm.yaml"
        overrides["litellm_config"].write_text(yaml.safe_dump(config))
    # a variant of the dev server's dynamic config (read when the stack starts it)
    TEMPORAL_DYNAMIC_CONFIG.update(dict(text.split("=", 1) for text in args.temporal_config))
    running = await start_stack(base / "stack", extra_agents=agents, **overrides)
    keys = [
        await running.create_key("submitter", "profile", tenant=f"profile-{n}-{unique_key('t')}")
        for n in range(TENANTS)
    ]
    apis = [running.api(key) for key in keys]
    api = apis[0]
    try:
        await one_at_a_time(running, api, args.warmup, [0.0])
        idle = ps.memory()
        results["memory_idle"] = {"rss": idle.rss, "pss": idle.pss, "count": idle.count}
        results["processes"] = {str(pid): kind for pid, kind in ps.stack_processes().items()}
        if "statements" in args.phases:
            await statements_phase(running, api, out, args, results)
        if "serial" in args.phases:
            logger.info("phase: one at a time")
            before = ps.cpu_seconds()
            serial = await one_at_a_time(running, api, args.serial, [0.0, args.gap])
            results["serial_cpu_s"] = ps.cpu_by_kind(before, ps.cpu_seconds())
            results["serial"] = [asdict(r) for r in serial]
            results["histories"] = await histories(running, serial)
        if "hop" in args.phases:
            logger.info("phase: LiteLLM's hop")
            before = ps.cpu_seconds()
            results["proxy_hop_ms"] = await proxy_hop(running, args.hop_calls)
            results["proxy_hop_cpu_s"] = ps.cpu_by_kind(before, ps.cpu_seconds())
            before = ps.cpu_seconds()
            results["proxy_hop_plain_ms"] = await proxy_hop(running, args.hop_calls, stream=False)
            results["proxy_hop_plain_cpu_s"] = ps.cpu_by_kind(before, ps.cpu_seconds())
        if "burst" in args.phases:
            logger.info("phase: %d at once", args.concurrent)
            results["burst"] = await measured_burst(running, apis, args.concurrent)
            sampled = results["burst"]["runs"][:: max(1, args.concurrent // 10)]
            results["burst_histories"] = await histories(running, [TaskRun(**r) for r in sampled])
        after = ps.memory()
        results["memory_after"] = {"rss": after.rss, "pss": after.pss, "count": after.count}
        if "pyspy" in args.phases:
            await pyspy_phase(running, api, apis, out, args, results)
    finally:
        for client in apis:
            await client.aclose()
        await stop_stack(running)
        shutil.rmtree(base, ignore_errors=True)  # the stack's data; what is kept is in `out`
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    return results


async def statements_phase(
    running: RunningStack,
    api: httpx.AsyncClient,
    out: Path,
    args: argparse.Namespace,
    results: dict[str, Any],
) -> None:
    logger.info("phase: Postgres statements")
    results["statements"] = await statement_log(running, api, out, args.statement_tasks, args.idle)
    results["statement_histories"] = await histories(
        running, [TaskRun(**r) for r in results["statements"]["runs"]]
    )


async def pyspy_phase(
    running: RunningStack,
    api: httpx.AsyncClient,
    apis: list[httpx.AsyncClient],
    out: Path,
    args: argparse.Namespace,
    results: dict[str, Any],
) -> None:
    spy = ps.PySpy(out / "pyspy", args.rate)
    targets = {
        "gateway": ps.first_pid("gateway"),
        "worker": ps.first_pid("worker (pool default)"),
        "litellm": ps.first_pid("LiteLLM"),
    }
    logger.info("phase: py-spy, one at a time")
    await spy.start("serial", targets)
    try:
        await one_at_a_time(running, api, args.serial // 2, [0.0])
    finally:
        await spy.stop()
    logger.info("phase: py-spy, %d at once", args.concurrent)
    await spy.start("burst", targets)
    try:
        results["burst_pyspy"] = await measured_burst(running, apis, args.concurrent)
    finally:
        await spy.stop()
    results["pyspy_files"] = {k: str(v) for k, v in spy.files.items()}


def _setting(text: str) -> tuple[str, Any]:
    """`key=value`, the value read as YAML (true, 3, text)."""
    key, _, value = text.partition("=")
    return key, yaml.safe_load(value)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_task", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "agentry-profile")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--statement-tasks", type=int, default=5)
    parser.add_argument("--idle", type=float, default=10.0, help="idle window, s (statements)")
    parser.add_argument("--serial", type=int, default=30, help="one-at-a-time tasks")
    parser.add_argument("--gap", type=float, default=0.6, help="s before every other task")
    parser.add_argument("--hop-calls", type=int, default=50)
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument(
        "--temporal-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dynamic-config value of the dev server, e.g. matching.enableFairness=false",
    )
    parser.add_argument(
        "--litellm-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a litellm_settings entry, e.g. disable_streaming_logging=true",
    )
    parser.add_argument(
        "--phases",
        type=lambda text: set(text.split(",")),
        default={"statements", "serial", "hop", "burst"},
        help="comma-separated: statements, serial, hop, burst, pyspy (default all but pyspy)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
