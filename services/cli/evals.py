"""`agentry eval save TASK` keeps a finished task as a case for trajectory replay, and `agentry
eval replay` runs the saved cases again (as they are, or on another agent or model group) and
compares each new trajectory with the saved one. Both go through the gateway's REST API, as
`agentry tasks` does (AGENTRY_URL; AGENTRY_API_KEY or the dev key); the comparison itself is
evals/replay/compare.py."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from evals.replay.cases import (
    FINAL,
    CaseError,
    Record,
    Trajectory,
    new_case,
    read_cases,
    trajectory_of,
    write_case,
)
from evals.replay.compare import all_gold_pass, compare, report, summary
from services.cli.tasks import gateway_client, report_failure

DEFAULT_DIR = Path("evals/saved")
EVENTS_PAGE = 1000
MAX_WAIT = 60  # seconds one GET ?wait= may hold (the gateway's limit)


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    group = commands.add_parser("eval", help="save finished tasks as cases; replay and compare")
    evals = group.add_subparsers(dest="eval_command", required=True)
    save = evals.add_parser("save", help="save a finished task as a replay case (JSON)")
    save.add_argument("task_id")
    save.add_argument(
        "--gold", action="store_true", help="mark it gold: you checked its answer and steps"
    )
    save.add_argument("--name", help="case name (default: <agent>-<task id's first 8>)")
    save.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")
    save.add_argument("--force", action="store_true", help="replace a case of that name")
    save.set_defaults(func=_save)
    replay = evals.add_parser("replay", help="run saved cases again and compare trajectories")
    replay.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")
    replay.add_argument("--agent", help="run every case on this agent (default: the case's)")
    replay.add_argument("--model", help="model group for the turns (default: the agent's)")
    replay.add_argument(
        "--case", dest="cases", action="extend", nargs="+", default=[], metavar="NAME",
        help="only these cases (file names without .json)",
    )  # fmt: skip
    replay.add_argument("--timeout", type=float, default=600, help="seconds per case (600)")
    replay.set_defaults(func=_replay)


class _Refused(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response


@contextmanager
def _gateway() -> Iterator[httpx.Client]:
    """The gateway client; a refusal or an unreachable gateway ends the command with its
    reason, never a traceback."""
    client = gateway_client()
    try:
        with client:
            yield client
    except _Refused as refused:
        raise SystemExit(report_failure(refused.response)) from None
    except httpx.HTTPError as exc:
        print(f"agentry: cannot reach the gateway at {client.base_url}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    if response.status_code != 200:
        raise _Refused(response)
    return response.json()


def _records(client: httpx.Client, task_id: str) -> tuple[Record, list[Record], list[Record]]:
    """A task, all its events (page by page) and its transcript."""
    task = _get(client, f"/v1/tasks/{task_id}")
    events: list[Record] = []
    while True:
        after = {"after": events[-1]["id"]} if events else {}
        page = _get(client, f"/v1/tasks/{task_id}/events", limit=EVENTS_PAGE, **after)["items"]
        events.extend(page)
        if len(page) < EVENTS_PAGE:
            break
    messages = _get(client, f"/v1/tasks/{task_id}/messages")["items"]
    return task, events, messages


def _save(args: argparse.Namespace) -> int:
    with _gateway() as client:
        task = _get(client, f"/v1/tasks/{args.task_id}")
        if task["status"] not in FINAL:
            print(
                f"agentry: task {task['id']} is {task['status']}; only a finished task "
                f"({', '.join(FINAL)}) can be saved: wait for it (agentry watch {task['id']})",
                file=sys.stderr,
            )
            return 1
        task, events, messages = _records(client, task["id"])
    name = args.name or f"{task['agent']}-{str(task['id'])[:8]}"
    try:
        case = new_case(trajectory_of(task, events, messages), name, task["id"], gold=args.gold)
        path = write_case(case, args.dir, overwrite=args.force)
    except CaseError as exc:
        print(f"agentry: {exc}", file=sys.stderr)
        return 1
    print(
        f"saved {path}: {case.status}, {len(case.model_replies)} model replies, "
        f"{len(case.tool_calls)} tool calls{', gold' if case.gold else ''}"
    )
    return 0


def _replay(args: argparse.Namespace) -> int:
    try:
        cases = read_cases(args.dir, args.cases)
    except CaseError as exc:
        print(f"agentry: {exc}", file=sys.stderr)
        return 1
    if not cases:
        print(f"agentry: no saved cases in {args.dir} (agentry eval save TASK)", file=sys.stderr)
        return 1
    comparisons = []
    with _gateway() as client:
        for case in cases:
            trajectory, task_id = _run(client, case.agent, case.input, case.name, args)
            comparison = compare(case, trajectory)
            comparisons.append(comparison)
            print("\n".join(report(comparison, task_id)), flush=True)
    print(summary(comparisons))
    return 0 if all_gold_pass(comparisons) else 1


def _run(
    client: httpx.Client, agent: str, text: str, name: str, args: argparse.Namespace
) -> tuple[Trajectory, str | None]:
    """Submit the case's input and wait for its task; (its trajectory, its id). A submit the
    gateway refuses, or a task still running at the timeout (then cancelled), is a trajectory
    that did not run, with the reason as its error."""
    body: dict[str, Any] = {"agent": args.agent or agent, "input": text}
    body["metadata"] = {"eval_replay_of": name}
    if args.model:
        body["model"] = args.model
    response = client.post("/v1/tasks", json=body)
    if response.status_code not in (200, 201):
        return _not_run(body, f"submit refused: {response.status_code}: {_detail(response)}"), None
    task_id = str(response.json()["id"])
    deadline = time.monotonic() + args.timeout
    while True:
        left = deadline - time.monotonic()
        task = _get(client, f"/v1/tasks/{task_id}", wait=max(0, min(MAX_WAIT, left)))
        if task["status"] in FINAL:
            break
        if left <= 0:
            client.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "eval replay timed out"})
            return _not_run(body, f"still {task['status']} after {args.timeout:g} s"), task_id
    return trajectory_of(*_records(client, task_id)), task_id


def _not_run(body: dict[str, Any], reason: str) -> Trajectory:
    return Trajectory(
        agent=body["agent"], model=body.get("model"), input=body["input"], status="not run",
        error=reason,
    )  # fmt: skip


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text
