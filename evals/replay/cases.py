"""A saved case: one finished task's trajectory (its input, the model's replies, the tool calls
with their arguments and results, the final answer) as a JSON file a person can read, edit and
mark gold. Built only from what the gateway's REST API returns, so any client can save one."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

CASE_FORMAT = 1
CASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
FINAL = ("succeeded", "failed", "cancelled")


class CaseError(ValueError):
    """A case that cannot be read or written; the message names the file and what is wrong."""


class ModelReply(BaseModel):
    """One model turn: what the model wrote and which tools it asked for."""

    iteration: int | None = None
    model: str | None = None
    content: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)  # {name, arguments}


class ToolCallRecord(BaseModel):
    """One tool call as it ran (a sub-agent's `delegate` call included); its result as the
    task's event keeps it (the first 2000 characters)."""

    iteration: int | None = None
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: str | None = None
    is_error: bool = False


class Trajectory(BaseModel):
    """What a task did, in order: the part of a case a replay is compared on."""

    agent: str
    model: str | None = None
    input: str
    status: str
    final_answer: str | None = None
    error: str | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    model_replies: list[ModelReply] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)


class Case(Trajectory):
    format: int = CASE_FORMAT
    name: str
    gold: bool = False  # only a person marks a case gold (`agentry eval save --gold`)
    task_id: str | None = None
    saved_at: str | None = None


Record = Mapping[str, Any]  # one JSON object as the REST API returns it


def trajectory_of(task: Record, events: Sequence[Record], messages: Sequence[Record]) -> Trajectory:
    """The trajectory of a task from GET /v1/tasks/{id}, its /events and its /messages.

    The n-th assistant message is the n-th model call's reply (`llm_call` event: its iteration
    and model); tool calls are in the order the model asked for them, turn by turn, whatever
    order their results were recorded in."""
    turns = [event.get("data") or {} for event in events if event.get("type") == "llm_call"]
    written = [
        message
        for message in messages
        if message.get("role") == "assistant" and message.get("kind", "message") == "message"
    ]
    paired = len(turns) == len(written)
    replies: list[ModelReply] = []
    asked: dict[tuple[Any, Any], tuple[int, int, Record]] = {}
    for n, message in enumerate(written):
        turn = turns[n] if paired else {}
        calls = message.get("tool_calls") or []
        for position, call in enumerate(calls):
            asked[(turn.get("iteration"), call.get("id"))] = (len(replies), position, call)
        replies.append(
            ModelReply(
                iteration=turn.get("iteration"),
                model=turn.get("model"),
                content=message.get("content"),
                tool_calls=[
                    {"name": call.get("name"), "arguments": call.get("arguments") or {}}
                    for call in calls
                ],
            )
        )
    error = task.get("error") or {}
    return Trajectory(
        agent=str(task.get("agent", "")),
        model=task.get("model"),
        input=str(task.get("input", "")),
        status=str(task.get("status", "")),
        final_answer=task.get("result"),
        error=error.get("message") if isinstance(error, Mapping) else None,
        usage=dict(task.get("usage") or {}),
        model_replies=replies,
        tool_calls=_tool_calls(events, asked),
    )


def _tool_calls(
    events: Sequence[Record], asked: Mapping[tuple[Any, Any], tuple[int, int, Record]]
) -> list[ToolCallRecord]:
    """The calls that ran (`tool_call` and `delegation` events), in the order they were asked
    for: `asked` maps (iteration, call id) to (reply, position in it, the call as written)."""
    ran: list[tuple[tuple[int, int, int], ToolCallRecord]] = []
    for index, event in enumerate(events):
        if event.get("type") not in ("tool_call", "delegation"):
            continue
        data = event.get("data") or {}
        order = asked.get((data.get("iteration"), data.get("call_id")))
        if event["type"] == "delegation":  # its event names only the agent
            name = "delegate"
            arguments = dict(order[2].get("arguments") or {}) if order else {}
            arguments.setdefault("agent", data.get("agent"))
        else:
            name, arguments = str(data.get("name", "")), dict(data.get("arguments") or {})
        record = ToolCallRecord(
            iteration=data.get("iteration"),
            name=name,
            arguments=arguments,
            result=data.get("result"),
            is_error=bool(data.get("is_error")),
        )
        rank = (data.get("iteration") or 0, *(order[:2] if order else (len(events), index)))
        ran.append((rank, record))
    return [record for _, record in sorted(ran, key=lambda pair: pair[0])]


def new_case(trajectory: Trajectory, name: str, task_id: str, *, gold: bool) -> Case:
    if not CASE_NAME.match(name):
        raise CaseError(
            f"case name {name!r}: use letters, digits, '.', '_' or '-' (at most 128), "
            "starting with a letter or digit"
        )
    return Case(
        **trajectory.model_dump(),
        name=name,
        gold=gold,
        task_id=task_id,
        saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def write_case(case: Case, directory: Path, *, overwrite: bool = False) -> Path:
    path = directory / f"{case.name}.json"
    if path.exists() and not overwrite:
        raise CaseError(f"{path} exists; choose another --name or pass --force")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(case.model_dump_json(indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CaseError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def read_cases(directory: Path, names: Sequence[str] = ()) -> list[Case]:
    """The cases in `directory` (`<name>.json`), by name; `names`: only these, each must exist."""
    if not directory.is_dir():
        raise CaseError(f"{directory} is not a folder of saved cases")
    paths = {path.stem: path for path in sorted(directory.glob("*.json"))}
    missing = [name for name in names if name not in paths]
    if missing:
        raise CaseError(
            f"no saved case {', '.join(missing)} in {directory}; saved: "
            f"{', '.join(paths) or '(none)'}"
        )
    cases = []
    for name in names or list(paths):
        path = paths[name]
        try:
            cases.append(Case.model_validate_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError) as exc:
            raise CaseError(f"{path} is not a saved case: {_first_line(exc)}") from None
    return cases


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
