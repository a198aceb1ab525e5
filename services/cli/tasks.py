"""`agentry tasks` and `agentry watch TASK`: a client's view of tasks in the terminal, through
the gateway's REST API (the same calls any client makes), with the key in AGENTRY_API_KEY or,
on the embedded stack, the dev key in `<data dir>/dev-api-key`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

import httpx

from services.settings import get_settings

FINAL = {"succeeded", "failed", "cancelled"}


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    listing = commands.add_parser("tasks", help="recent tasks with their progress")
    listing.add_argument("--status", help="only tasks in this status")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(func=_tasks)
    watch = commands.add_parser("watch", help="follow a task live: steps, tool calls, waits")
    watch.add_argument("task_id")
    watch.set_defaults(func=_watch)


def gateway_client() -> httpx.Client:
    settings = get_settings()
    key = settings.resolved_api_key()
    if not key:
        raise SystemExit("agentry: set AGENTRY_API_KEY (no dev key found either)")
    return httpx.Client(
        base_url=settings.resolved_gateway_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(30.0, read=None),
    )


def report_failure(response: httpx.Response) -> int:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    print(f"agentry: {response.status_code}: {detail}", file=sys.stderr)
    return 1


def _tasks(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit}
    if args.status:
        params["status"] = args.status
    with gateway_client() as client:
        response = client.get("/v1/tasks", params=params)
    if response.status_code != 200:
        return report_failure(response)
    rows = [("ID", "AGENT", "STATUS", "PROGRESS", "AGE")]
    now = datetime.now(UTC)
    for task in response.json()["items"]:
        rows.append((task["id"], task["agent"], task["status"], progress(task), age(task, now)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def progress(task: dict[str, Any]) -> str:
    """Steps so far, against the task's model-call budget when it has one."""
    usage = task.get("usage") or {}
    budget = (task.get("budgets") or {}).get("max_model_calls")
    calls = usage.get("llm_calls", 0)
    steps = f"{calls}/{budget} model calls" if budget else f"{calls} model calls"
    tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    return f"{steps}, {usage.get('tool_calls', 0)} tools, {tokens} tokens"


def age(task: dict[str, Any], now: datetime) -> str:
    seconds = int((now - datetime.fromisoformat(task["created_at"])).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _watch(args: argparse.Namespace) -> int:
    with gateway_client() as client:
        with client.stream("GET", f"/v1/tasks/{args.task_id}/stream") as response:
            if response.status_code != 200:
                response.read()
                return report_failure(response)
            kind, writing = "", None  # the turn whose text is being printed
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "delta":
                    writing = _print_delta(json.loads(line[6:]), writing)
                elif line.startswith("data: ") and kind != "end":
                    if writing is not None:
                        print(flush=True)  # the turn's text is done: end its line
                        writing = None
                    print(describe(kind, json.loads(line[6:])), flush=True)
            if writing is not None:
                print(flush=True)
        task = client.get(f"/v1/tasks/{args.task_id}").json()
    if task["status"] == "succeeded":
        print(f"result: {task.get('result')}")
        return 0
    error = task.get("error") or {}
    print(f"{task['status']}: {error.get('message', '')}".rstrip(": "))
    return 1


def _print_delta(delta: dict[str, Any], writing: Any) -> Any:
    """The model's text as it comes, on one line per turn (a retried attempt starts another);
    returns the turn now being written."""
    turn = (delta.get("iteration"), delta.get("attempt"))
    if turn != writing:
        if writing is not None:
            print()
        print(f"{datetime.now(UTC):%H:%M:%S}  writing   ", end="")
    print(printable(str(delta.get("text", ""))), end="", flush=True)
    return turn


def printable(text: str) -> str:
    """Text as one terminal line: line breaks, tabs and control characters (a model may write
    terminal escapes) become spaces."""
    return "".join(c if c.isprintable() else " " for c in text)


def describe(kind: str, event: dict[str, Any]) -> str:
    """One line per event, for people."""
    data, at = event["data"], event["created_at"][11:19]
    if kind == "status":
        return f"{at}  status    {data.get('status')}"
    if kind == "llm_call":
        asks = ", ".join(data.get("tool_calls") or []) or "an answer"
        return (
            f"{at}  model     {data.get('model')}: {data.get('prompt_tokens')} → "
            f"{data.get('completion_tokens')} tokens in {data.get('duration_ms')} ms; {asks}"
        )
    if kind in ("tool_call", "delegation"):
        name = data.get("name") or f"delegate to {data.get('agent')}"
        result = str(data.get("result", "")).replace("\n", " ")
        shown = result if len(result) <= 80 else result[:77] + "..."
        flag = " (error)" if data.get("is_error") else ""
        return f"{at}  tool      {name}{flag} → {shown}"
    if kind == "approval":
        what = data.get("decision") or data.get("state") or "requested"
        return f"{at}  approval  {data.get('tool', '')} {what}".rstrip()
    if kind == "memory":
        return f"{at}  memory    summarised: {data.get('tokens_saved')} tokens saved"
    return f"{at}  {kind:<9} {json.dumps(data)[:100]}"
