"""Benchmark harness: figures are measured here and recorded in docs/BENCHMARKS.md, never
asserted in tests (a loaded CI machine must not fail the suite).

`python -m bench` runs every benchmark with its defaults (what `make bench` does);
`python -m bench --list` names them; `python -m bench <name> --help` shows a benchmark's options.
This module holds what the benchmarks share: percentiles, the machine's description, the
update and reading of one section of docs/BENCHMARKS.md, and reading workflow histories.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle

# no resolve(): bench/floor_workflow.py is imported inside the workflow sandbox, which imports
# this package too and forbids file-system calls
ROOT = Path(__file__).parent.parent
BENCHMARKS_MD = ROOT / "docs" / "BENCHMARKS.md"
DOC_INTRO = (
    "# Benchmarks\n\n"
    "Measured with `make bench` (or `.venv/bin/python -m bench <name>`), on loopback, against the\n"
    "embedded stack the dev supervisor starts. Each benchmark rewrites its own section below.\n"
    "Figures are recorded, never asserted in tests.\n"
)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), interpolating linearly between the closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(
            n=len(values),
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
            max=max(values),
        )


def _command_output(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return ""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def machine() -> str:
    """One line: cores (`nproc`), CPU model (`lscpu`), memory (`free -h`), GPU, OS, Python."""
    cores = _command_output(["nproc"]).strip() or str(os.cpu_count())
    model = re.search(r"^Model name:\s*(.+)$", _command_output(["lscpu"]), re.MULTILINE)
    memory = re.search(r"^Mem:\s+(\S+)", _command_output(["free", "-h"]), re.MULTILINE)
    has_gpu = shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()
    return (
        f"{cores} cores ({model.group(1).strip() if model else platform.processor() or '?'}), "
        f"{memory.group(1) if memory else '?'} RAM, {'a GPU' if has_gpu else 'no GPU'}; "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def update_section(title: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace the `## <title>` section of the file (or append it); other sections stay."""
    text = path.read_text() if path.exists() else DOC_INTRO
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = f"{text.rstrip()}\n\n{section}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def read_section(title: str, path: Path = BENCHMARKS_MD) -> str | None:
    """The body of the `## <title>` section of the file, or None when it has none."""
    if not path.exists():
        return None
    pattern = re.compile(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    found = pattern.search(path.read_text())
    return found.group(1) if found else None


def by_label(samples: Sequence[Sequence[tuple[str, float]]]) -> dict[str, list[float]]:
    """Per-sample (label, ms) lists regrouped as label → values, labels in first-seen order."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        for label, value in sample:
            grouped[label].append(value)
    return dict(grouped)


def offsets_table(samples: Sequence[Sequence[tuple[str, float]]]) -> list[str]:
    """Markdown rows: each event's p50/p90 offset, in the order of the p50s, with the step
    between consecutive p50s and how many samples had the event."""
    rows = sorted(by_label(samples).items(), key=lambda item: percentile(item[1], 50))
    lines = ["| event | p50 | p90 | step (p50) | in samples |", "|---|---|---|---|---|"]
    previous = 0.0
    for label, values in rows:
        p50 = percentile(values, 50)
        lines.append(
            f"| {label} | {p50:.1f} | {percentile(values, 90):.1f} | +{p50 - previous:.1f} "
            f"| {len(values)}/{len(samples)} |"
        )
        previous = p50
    return lines


def load_text(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def command_line() -> str:
    """How this run was started, with the interpreter relative to the project when inside it."""
    python = Path(sys.executable)
    shown = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    return " ".join([str(shown), "-m", "bench", *sys.argv[1:]])


def event_ms(event: HistoryEvent, since: float) -> float:
    """The event's `event_time` (the server's wall clock) in ms after `since` (time.time())."""
    return (event.event_time.seconds + event.event_time.nanos / 1e9 - since) * 1000


def activity_names(events: Sequence[HistoryEvent]) -> dict[int, str]:
    """ActivityTaskScheduled event id → activity type name."""
    return {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }


def event_label(event: HistoryEvent, names: dict[int, str]) -> str:
    """`WorkflowTaskStarted`, `ActivityTaskScheduled run_tool`, ...: the event type in
    CamelCase, with the activity's name for activity events."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    label = "".join(part.capitalize() for part in name.split("_"))
    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        return f"{label} {names[event.event_id]}"
    if event.event_type in (
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    ):
        attributes = (
            event.activity_task_started_event_attributes
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            else event.activity_task_completed_event_attributes
        )
        return f"{label} {names[attributes.scheduled_event_id]}"
    return label


async def wait_idle(handle: WorkflowHandle[Any, Any], timeout: float, poll: float) -> None:
    """Until nothing runs for the workflow (no pending activity, no pending workflow task)."""
    deadline = time.monotonic() + timeout
    while True:
        described = (await handle.describe()).raw_description
        if not described.pending_activities and not described.HasField("pending_workflow_task"):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"workflow {handle.id} is still busy after {timeout}s")
        await asyncio.sleep(poll)
