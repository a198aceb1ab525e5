"""The two sides of `bench/overhead.py` behind one interface, and the phases that drive them.

Agentry's side submits the way a client does, POST /v1/tasks to the gateway, and learns that
the task is done either as a client does, GET /v1/tasks/{id}?wait= (`wait`), or as the
baseline's side does, from the workflow's result through a Temporal client (`temporal`). The
baseline's side starts its workflow with that client. Either way a run's time is the client's:
from just before the submit to the answer that it is done.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import httpx
from temporalio.client import Client

from bench.overhead_workflow import BaselinePlan, OverheadBaselineWorkflow
from tests.fakes.script_client import ScriptedModel, reply_text, reply_tool_calls, unique_key
from workflows.contracts.tasks import workflow_id_for_task

TOOL_CALLS = 4  # one per turn; the fifth turn answers
WAIT_SECONDS = 60  # per GET ?wait=
MAX_WAITS = 5  # a task not final after this many waits fails the run
SCRIPT_CONCURRENCY = 16


@dataclass(frozen=True)
class Job:
    marker: str  # the script's marker in the task input (Agentry); empty for the baseline
    model_seconds: float


@dataclass(frozen=True)
class TaskRun:
    client_ms: float  # submit sent → the client knows it is done
    workflow_id: str
    ok: bool  # succeeded with 5 model calls and 4 tool calls (Agentry), or completed
    task_id: str | None = None  # Agentry's
    server_ms: float | None = None  # Agentry: the task row's created_at → finished_at


class Driver(Protocol):
    async def prepare(self, count: int, model_seconds: float) -> list[Job]: ...

    async def run_one(self, job: Job, slot: int) -> TaskRun: ...

    async def settle(self, runs: Sequence[TaskRun]) -> list[TaskRun]: ...


class AgentryDriver:
    """Tasks of `agent` through the gateway; slot n submits with the n-th client's key (the
    keys belong to as many tenants as the tenant cap needs for the concurrency asked for)."""

    def __init__(
        self,
        agent: str,
        clients: Sequence[httpx.AsyncClient],
        scripted: ScriptedModel,
        temporal: Client,
        completion: str,
    ) -> None:
        self.agent = agent
        self.clients = list(clients)
        self.scripted = scripted
        self.temporal = temporal
        self.completion = completion  # "wait" (GET ?wait=) or "temporal" (the workflow result)

    async def prepare(self, count: int, model_seconds: float) -> list[Job]:
        gate = asyncio.Semaphore(SCRIPT_CONCURRENCY)

        async def one(n: int) -> Job:
            replies = [
                reply_tool_calls(
                    [("calculator", {"expression": f"{n}+{i}"})], delay_s=model_seconds
                )
                for i in range(TOOL_CALLS)
            ]
            replies.append(reply_text(f"done {n}", delay_s=model_seconds))
            async with gate:
                marker = await self.scripted.script(unique_key("overhead"), replies)
            return Job(marker, model_seconds)

        return list(await asyncio.gather(*(one(n) for n in range(count))))

    async def run_one(self, job: Job, slot: int) -> TaskRun:
        api = self.clients[slot % len(self.clients)]
        started = time.perf_counter()
        answer = await api.post(
            "/v1/tasks", json={"agent": self.agent, "input": f"Add up. {job.marker}"}
        )
        answer.raise_for_status()
        task: dict[str, Any] = answer.json()
        if self.completion == "wait":
            await self._wait(api, task)
        else:
            await self.temporal.get_workflow_handle(workflow_id_for_task(task["id"])).result()
        client_ms = (time.perf_counter() - started) * 1000
        return TaskRun(client_ms, workflow_id_for_task(task["id"]), False, task["id"])

    async def _wait(self, api: httpx.AsyncClient, task: dict[str, Any]) -> None:
        for _ in range(MAX_WAITS):
            if task["finished_at"] is not None:
                return
            got = await api.get(f"/v1/tasks/{task['id']}", params={"wait": WAIT_SECONDS})
            got.raise_for_status()
            task = got.json()
        raise RuntimeError(f"task {task['id']} not final after {MAX_WAITS} waits")

    async def settle(self, runs: Sequence[TaskRun]) -> list[TaskRun]:
        """The runs with what their task rows say, read once they are done: whether each
        went as scripted, and its created_at → finished_at."""
        gate = asyncio.Semaphore(SCRIPT_CONCURRENCY)

        async def one(run: TaskRun) -> TaskRun:
            async with gate:
                got = await self.clients[0].get(f"/v1/tasks/{run.task_id}")
                if got.status_code == 404:  # another tenant's: ask with the key that made it
                    for api in self.clients[1:]:
                        if (got := await api.get(f"/v1/tasks/{run.task_id}")).status_code != 404:
                            break
            got.raise_for_status()
            task = got.json()
            usage = task.get("usage") or {}
            ok = (
                task["status"] == "succeeded"
                and usage.get("llm_calls") == TOOL_CALLS + 1
                and usage.get("tool_calls") == TOOL_CALLS
            )
            finished = task["finished_at"]
            server_ms = (
                (_time(finished) - _time(task["created_at"])).total_seconds() * 1000
                if finished
                else None
            )
            return replace(run, ok=ok, server_ms=server_ms)

        return list(await asyncio.gather(*(one(run) for run in runs)))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


class BaselineDriver:
    """The bare workflow of bench/overhead_workflow.py on `queue`, started by this process."""

    def __init__(self, client: Client, queue: str) -> None:
        self.client = client
        self.queue = queue

    async def prepare(self, count: int, model_seconds: float) -> list[Job]:
        return [Job("", model_seconds)] * count

    async def run_one(self, job: Job, slot: int) -> TaskRun:
        started = time.perf_counter()
        handle = await self.client.start_workflow(
            OverheadBaselineWorkflow.run,
            BaselinePlan(model_seconds=job.model_seconds),
            id=f"bench-overhead-{uuid.uuid4().hex}",
            task_queue=self.queue,
        )
        done = await handle.result()
        client_ms = (time.perf_counter() - started) * 1000
        return TaskRun(client_ms, handle.id, done.steps == 2 * TOOL_CALLS + 1)

    async def settle(self, runs: Sequence[TaskRun]) -> list[TaskRun]:
        return list(runs)


async def one_at_a_time(driver: Driver, jobs: Sequence[Job], gap_seconds: float) -> list[TaskRun]:
    """Each job once the previous one is done, `gap_seconds` after it."""
    runs = []
    for job in jobs:
        runs.append(await driver.run_one(job, 0))
        if gap_seconds > 0:
            await asyncio.sleep(gap_seconds)
    return runs


async def in_flight(
    driver: Driver, jobs: Sequence[Job], concurrency: int
) -> tuple[list[TaskRun], float]:
    """The jobs with `concurrency` of them in flight at all times (each slot submits its next
    as soon as its last is done); the runs and the seconds from first submit to last done."""
    pending = iter(jobs)
    runs: list[TaskRun] = []

    async def slot(n: int) -> None:
        for job in pending:  # shared: each job goes to the first free slot
            runs.append(await driver.run_one(job, n))

    started = time.perf_counter()
    await asyncio.gather(*(slot(n) for n in range(concurrency)))
    return runs, time.perf_counter() - started
