"""Reading what `bench/profile_task.py` records: Postgres statement logs, py-spy raw stacks and
workflow histories, each turned into counts and shares. Pure functions over files and events,
so they can be read (and checked) apart from the stack that produced them."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from bench import activity_names, event_label

# --- Postgres: log_min_duration_statement = 0, log_line_prefix = '%n [%p] ' ---------------

PG_PREFIX = "%n [%p] "
"""Epoch seconds with milliseconds, then the backend's pid: no time zone to get wrong."""
_ENTRY = re.compile(r"^(\d+\.\d+) \[(\d+)\] (\w+):  (.*)$")
_DURATION = re.compile(
    r"^duration: ([\d.]+) ms  (?:(statement)|(parse|bind|execute) ([^:]+)): (.*)$", re.DOTALL
)


@dataclass(frozen=True)
class Statement:
    at: float  # epoch seconds (Postgres' clock, the same machine's)
    backend: int  # the backend's pid
    phase: str  # statement (simple protocol), parse, bind or execute (extended protocol)
    sql: str
    ms: float

    @property
    def round_trip(self) -> bool:
        """A message exchange the client waits for: a simple query, a bind (Bind, Execute
        and Sync travel together; an empty query such as the pool's `;` ping logs no execute),
        or a parse (asyncpg prepares in a round trip of its own)."""
        return self.phase in ("statement", "bind", "parse")

    @property
    def verb(self) -> str:
        """BEGIN, COMMIT, SELECT, INSERT …, with the table for the data statements."""
        text = " ".join(self.sql.split())
        word = text.split(" ", 1)[0].upper().rstrip(";") if text else "(empty)"
        if word in ("", ";"):
            return "; (ping)"
        table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", text, re.IGNORECASE)
        if word == "SELECT" and "pg_notify" in text:
            return "SELECT pg_notify"
        return f"{word} {table.group(1)}" if table and word != "BEGIN" else word


def read_statements(path: Path, offset: int = 0) -> list[Statement]:
    """The statements logged in `path` after byte `offset`; continuation lines (tab-indented)
    belong to the entry before them, DETAIL lines are skipped."""
    entries: list[tuple[float, int, str, list[str]]] = []
    with path.open(encoding="utf-8", errors="replace") as log:
        log.seek(offset)
        for line in log:
            found = _ENTRY.match(line.rstrip("\n"))
            if found:
                at, pid, level, text = found.groups()
                entries.append((float(at), int(pid), level, [text]))
            elif line.startswith("\t") and entries:
                entries[-1][3].append(line.strip())
    statements = []
    for at, pid, level, lines in entries:
        if level != "LOG":
            continue
        found = _DURATION.match(" ".join(lines))
        if not found:
            continue
        ms, simple, phase, _name, sql = found.groups()
        statements.append(Statement(at, pid, "statement" if simple else phase, sql, float(ms)))
    return statements


# --- py-spy --format raw: "frame;frame;…;leaf count" per distinct stack ------------------

_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


@dataclass
class StackSummary:
    samples: int = 0
    self_by_function: Counter[str] = field(default_factory=Counter)
    total_by_function: Counter[str] = field(default_factory=Counter)
    self_by_module: Counter[str] = field(default_factory=Counter)
    total_by_module: Counter[str] = field(default_factory=Counter)


def module_of(path: str) -> str:
    """A frame's file as a package: `litellm`, `temporalio`, `asyncio`, `agentry:activities.llm`
    (py-spy names files relative to their entry of sys.path)."""
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    stdlib = re.search(r"python3\.\d+/(.+)$", path)
    if stdlib:
        path = stdlib.group(1)
    parts = path.lstrip("/").split("/")
    if parts[0] in ("activities", "workflows", "services", "bench", "tests") and len(parts) > 1:
        return f"agentry:{parts[0]}.{parts[1].removesuffix('.py')}"
    return parts[0].removesuffix(".py")


def read_stacks(path: Path) -> StackSummary:
    summary = StackSummary()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        frames = [f for f in frames if f is not None]
        if not frames:
            continue
        summary.samples += count
        leaf_function, leaf_module = frames[-1]
        summary.self_by_function[leaf_function] += count
        summary.self_by_module[leaf_module] += count
        for function in {f for f, _ in frames}:
            summary.total_by_function[function] += count
        for module in {m for _, m in frames}:
            summary.total_by_module[module] += count
    return summary


def _frame(text: str) -> tuple[str, str] | None:
    found = _FRAME.match(text.strip())
    if not found:
        return None  # the thread's name / process line py-spy puts first
    function, file = found.groups()
    module = module_of(file)
    return f"{function} ({module})", module


# --- Temporal histories ------------------------------------------------------------------


@dataclass
class TaskHistory:
    """One task's history read as steps: offsets in ms from WorkflowExecutionStarted."""

    events: list[tuple[float, str]]  # (offset ms, label) in event order
    activities: Counter[str]  # scheduled, by type
    workflow_tasks: int
    wft_queued_ms: list[float]  # WorkflowTaskScheduled → Started
    wft_ran_ms: list[float]  # WorkflowTaskStarted → Completed
    activity_queued_ms: dict[str, list[float]]  # Scheduled → Started, by type
    activity_ran_ms: dict[str, list[float]]  # Started → Completed, by type
    total_ms: float
    size_bytes: int


def read_history(events: Sequence[HistoryEvent], size_bytes: int) -> TaskHistory:
    def at(event: HistoryEvent) -> float:
        return event.event_time.seconds * 1000 + event.event_time.nanos / 1e6

    names = activity_names(events)
    start = at(events[0])
    rows = [(at(e) - start, event_label(e, names)) for e in events]
    by_id = {e.event_id: e for e in events}
    wft_queued, wft_ran = [], []
    act_queued: dict[str, list[float]] = defaultdict(list)
    act_ran: dict[str, list[float]] = defaultdict(list)
    wft_started: dict[int, HistoryEvent] = {}
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            scheduled = by_id[e.workflow_task_started_event_attributes.scheduled_event_id]
            wft_queued.append(at(e) - at(scheduled))
            wft_started[e.event_id] = e
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            started = by_id[e.workflow_task_completed_event_attributes.started_event_id]
            wft_ran.append(at(e) - at(started))
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = e.activity_task_started_event_attributes
            scheduled = by_id[attributes.scheduled_event_id]
            act_queued[names[scheduled.event_id]].append(at(e) - at(scheduled))
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = e.activity_task_completed_event_attributes
            started = by_id[attributes.started_event_id]
            act_ran[names[attributes.scheduled_event_id]].append(at(e) - at(started))
    return TaskHistory(
        events=rows,
        activities=Counter(names.values()),
        workflow_tasks=sum(
            1 for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
        ),
        wft_queued_ms=wft_queued,
        wft_ran_ms=wft_ran,
        activity_queued_ms=dict(act_queued),
        activity_ran_ms=dict(act_ran),
        total_ms=rows[-1][0],
        size_bytes=size_bytes,
    )


def activity_windows(events: Sequence[HistoryEvent]) -> list[tuple[float, float, str]]:
    """(scheduled, completed, activity type) in epoch seconds, for attributing a worker's
    statements to the activity that ran when they were sent (tasks run one at a time)."""

    def at(event: HistoryEvent) -> float:
        return event.event_time.seconds + event.event_time.nanos / 1e9

    names = activity_names(events)
    scheduled = {
        e.event_id: at(e)
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    windows = []
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            sid = e.activity_task_completed_event_attributes.scheduled_event_id
            windows.append((scheduled[sid], at(e), names[sid]))
    return windows


def top(counter: Counter[str], total: int, n: int = 15) -> list[tuple[str, int, float]]:
    """The n largest entries as (key, count, share of `total` in %)."""
    return [
        (key, count, 100 * count / total if total else 0.0) for key, count in counter.most_common(n)
    ]


def per_each(counts: Iterable[tuple[str, int]], divisor: float) -> dict[str, float]:
    return {key: count / divisor for key, count in counts}
