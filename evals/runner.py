"""Run the eval cases against the running stack through its public REST API, as a client would:
submit, play the approver when a case says how, wait, then read the trace and the workspace."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from evals.cases import Case
from services.settings import Settings

FINAL = {"succeeded", "failed", "cancelled"}
POLL_SECONDS = 0.5


@dataclass
class Run:
    """One case's run: the task as the API left it, its trace, its workspace files."""

    case: Case
    task: dict[str, Any]
    trace: dict[str, Any]
    files: dict[str, str]
    finished: datetime
    seconds: float  # submit → final status, as the client saw it
    timed_out: bool = False
    decisions: list[str] = field(default_factory=list)


class EvalAborted(Exception):
    """The gateway refused what the run needs (a submit, a read): the run stops with why."""


def _problem(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    return f"{response.status_code}: {detail}"


def client_for(settings: Settings) -> httpx.AsyncClient:
    """A client of the gateway, found as `agentry tasks` finds it (AGENTRY_URL; AGENTRY_API_KEY
    or the embedded stack's dev key)."""
    key = settings.resolved_api_key()
    if not key:
        raise SystemExit("evals: set AGENTRY_API_KEY, or start the stack with `make run`")
    return httpx.AsyncClient(
        base_url=settings.resolved_gateway_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


async def run_cases(
    api: httpx.AsyncClient,
    cases: list[Case],
    at_once: int,
    timeout: float,
    extra: dict[str, Any] | None = None,
    progress: Callable[[Run], None] | None = None,
) -> list[Run]:
    """Every case, `at_once` at a time, each given `timeout` seconds; runs in case order.
    `extra` is added to every submit (e.g. a budget)."""
    gate = asyncio.Semaphore(at_once)

    async def one(case: Case) -> Run:
        async with gate:
            run = await run_case(api, case, timeout, extra or {})
        if progress:
            progress(run)
        return run

    return list(await asyncio.gather(*(one(case) for case in cases)))


async def run_case(
    api: httpx.AsyncClient, case: Case, timeout: float, extra: dict[str, Any]
) -> Run:
    started = time.monotonic()
    body = {"agent": case.agent, "input": case.input, "metadata": {"eval": case.key}, **extra}
    if case.given:
        body["files"] = case.given
    response = await api.post("/v1/tasks", json=body)
    if response.status_code not in (200, 201):
        raise EvalAborted(f"submitting {case.key} failed: {_problem(response)}")
    task_id = response.json()["id"]
    decisions: list[str] = []
    timed_out = False
    while True:
        task = await _get(api, f"/v1/tasks/{task_id}")
        if task["status"] in FINAL:
            break
        if task["status"] == "waiting_approval":
            decisions += await _decide(api, task_id, case)
        if time.monotonic() - started > timeout:
            timed_out = True
            await api.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "eval timeout"})
            task = await _wait_final(api, task_id)
            break
        await asyncio.sleep(POLL_SECONDS)
    seconds = time.monotonic() - started
    trace = await _get(api, f"/v1/tasks/{task_id}/trace")
    files = await _files(api, task_id)
    return Run(case, task, trace, files, datetime.now(UTC), seconds, timed_out, decisions)


async def _decide(api: httpx.AsyncClient, task_id: str, case: Case) -> list[str]:
    """Decide the task's pending approvals as the case says (none: leave them, the run times
    out as it would wait for a person)."""
    if case.approvals is None:
        return []
    audit = await _get(api, f"/v1/tasks/{task_id}/approvals")
    decided = []
    for approval in audit["items"]:
        if approval["status"] != "pending":
            continue
        response = await api.post(
            f"/v1/approvals/{approval['id']}/decision",
            json={"decision": case.approvals, "comment": "decided by the eval"},
        )
        if response.status_code in (200, 202):
            decided.append(f"{case.approvals} {approval['tool']}")
    return decided


async def _wait_final(api: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    for _ in range(120):
        task = await _get(api, f"/v1/tasks/{task_id}")
        if task["status"] in FINAL:
            return task
        await asyncio.sleep(POLL_SECONDS)
    return task


async def _files(api: httpx.AsyncClient, task_id: str) -> dict[str, str]:
    listing = await _get(api, f"/v1/tasks/{task_id}/files")
    files = {}
    for item in listing["items"]:
        response = await api.get(f"/v1/tasks/{task_id}/files/{item['path']}")
        files[item["path"]] = response.text if response.status_code == 200 else ""
    return files


async def _get(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await api.get(path)
    if response.status_code != 200:
        raise EvalAborted(f"GET {path} failed: {_problem(response)}")
    body: dict[str, Any] = response.json()
    return body
