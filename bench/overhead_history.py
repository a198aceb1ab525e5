"""What one task costs Temporal, read from its workflow history: events, bytes (the history
serialized as protobuf, as the server stores and sends it), activities and workflow tasks,
and where the time went between them (each activity scheduled → completed, each workflow task
scheduled → started, the wait for a worker, and started → completed, the worker's run)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History, HistoryEvent

from bench import activity_names, percentile

CLOSING_EVENTS = (
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
)


def _ms(later: HistoryEvent, earlier: HistoryEvent) -> float:
    seconds = later.event_time.seconds - earlier.event_time.seconds
    return seconds * 1000 + (later.event_time.nanos - earlier.event_time.nanos) / 1e6


@dataclass
class HistoryStats:
    events: int
    bytes: int
    run_ms: float  # WorkflowExecutionStarted → its closing event
    activities: Counter[str] = field(default_factory=Counter)  # activity type → scheduled
    activity_ms: dict[str, list[float]] = field(default_factory=dict)  # scheduled → completed
    local_activities: Counter[str] = field(default_factory=Counter)  # type → run (markers)
    workflow_tasks: int = 0
    workflow_task_wait_ms: list[float] = field(default_factory=list)  # scheduled → started
    workflow_task_run_ms: list[float] = field(default_factory=list)  # started → completed


def history_stats(events: Sequence[HistoryEvent]) -> HistoryStats:
    """The figures of one workflow run's history."""
    by_id = {e.event_id: e for e in events}
    names = activity_names(events)
    closing = [e for e in events if e.event_type in CLOSING_EVENTS]
    stats = HistoryStats(
        events=len(events),
        bytes=History(events=events).ByteSize(),
        run_ms=_ms(closing[-1], events[0]) if closing and events else 0.0,
        activities=Counter(names.values()),
        local_activities=Counter(local_activity_types(events)),
    )
    activity_ms: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            scheduled_id = e.activity_task_completed_event_attributes.scheduled_event_id
            activity_ms[names[scheduled_id]].append(_ms(e, by_id[scheduled_id]))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            scheduled_id = e.workflow_task_started_event_attributes.scheduled_event_id
            stats.workflow_tasks += 1
            stats.workflow_task_wait_ms.append(_ms(e, by_id[scheduled_id]))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            started_id = e.workflow_task_completed_event_attributes.started_event_id
            stats.workflow_task_run_ms.append(_ms(e, by_id[started_id]))
    stats.activity_ms = dict(activity_ms)
    return stats


def local_activity_types(events: Sequence[HistoryEvent]) -> list[str]:
    """The type of each local activity run, from its marker (the SDK's JSON in `data`)."""
    types = []
    for e in events:
        marker = e.marker_recorded_event_attributes
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and (
            marker.marker_name == "core_local_activity"
        ):
            data = json.loads(marker.details["data"].payloads[0].data)
            types.append(str(data.get("activity_type", "?")))
    return types


@dataclass(frozen=True)
class HistorySummary:
    """Per task, over a sample of tasks: medians of counts and sizes, the time of each kind
    of step pooled over every task."""

    tasks: int
    events: float
    bytes: float
    workflow_tasks: float
    activities: dict[str, float]  # activity type → per task (mean)
    local_activities: dict[str, float]  # local activity type → per task (mean)
    activity_p50_ms: dict[str, float]
    workflow_task_wait_ms: tuple[float, float]  # p50, p90
    workflow_task_run_ms: tuple[float, float]

    @property
    def activities_total(self) -> float:
        return sum(self.activities.values())


def summarize(histories: Sequence[HistoryStats]) -> HistorySummary:
    if not histories:
        raise ValueError("no histories")
    pooled: dict[str, list[float]] = defaultdict(list)
    counts: Counter[str] = Counter()
    local: Counter[str] = Counter()
    for h in histories:
        counts.update(h.activities)
        local.update(h.local_activities)
        for name, values in h.activity_ms.items():
            pooled[name].extend(values)
    waits = [ms for h in histories for ms in h.workflow_task_wait_ms]
    runs = [ms for h in histories for ms in h.workflow_task_run_ms]
    return HistorySummary(
        tasks=len(histories),
        events=percentile([h.events for h in histories], 50),
        bytes=percentile([h.bytes for h in histories], 50),
        workflow_tasks=percentile([h.workflow_tasks for h in histories], 50),
        activities={name: n / len(histories) for name, n in counts.items()},
        local_activities={name: n / len(histories) for name, n in local.items()},
        activity_p50_ms={name: percentile(values, 50) for name, values in pooled.items()},
        workflow_task_wait_ms=_p50_p90(waits),
        workflow_task_run_ms=_p50_p90(runs),
    )


def _p50_p90(values: Sequence[float]) -> tuple[float, float]:
    return (percentile(values, 50), percentile(values, 90)) if values else (0.0, 0.0)
