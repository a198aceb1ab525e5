"""The pure parts of `python -m bench overhead`: reading /proc, charging processes to their
kinds, counting a history, and the figures. No timings: every input is made up here."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from bench import overhead
from bench.overhead_drivers import TaskRun
from bench.overhead_history import HistoryStats, history_stats, summarize
from bench.overhead_pools import PRODUCTION_POOLS, bench_pools
from bench.overhead_report import Side, figures, headline, overheads_s, ratio
from bench.proc_stats import (
    CLOCK_TICKS,
    KindMemory,
    MemoryPeaks,
    ProcStat,
    add_process,
    cpu_delta,
    cpu_ms_by_kind,
    kinds_of,
    parse_kib,
    parse_stat,
    renamed,
)
from services.pools.catalog import POLLER_SLOTS, PoolCatalog

ROOT = Path(__file__).resolve().parents[2]

STAT = (
    "4242 (python -m (odd)) S 17 4242 4242 0 -1 4194560 1 0 0 0 "
    "150 30 7 3 20 0 9 0 123 456 789 18446744073709551615"
)


def test_a_stat_line_is_read_past_a_command_name_with_spaces_and_parentheses() -> None:
    stat = parse_stat(STAT)
    assert (stat.pid, stat.ppid, stat.cpu_ticks, stat.children_ticks) == (4242, 17, 180, 10)
    assert stat.cpu_ms == 190 * 1000 / CLOCK_TICKS


def test_memory_lines_are_read_in_kib() -> None:
    status = "Name:\tpostgres\nVmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\n"
    assert parse_kib(status, "VmRSS") == 10240
    assert parse_kib(status, "VmHWM") == 20480
    assert parse_kib(status, "VmSwap") is None


def _stat(pid: int, ppid: int, own: int = 0, children: int = 0) -> ProcStat:
    return ProcStat(pid, ppid, own, children)


def test_each_process_is_charged_to_its_nearest_root_and_strangers_to_none() -> None:
    stats = {
        s.pid: s
        for s in (
            _stat(1, 0),
            _stat(10, 1),  # the bench process: no root
            _stat(20, 10),  # postgres
            _stat(21, 20),  # a backend
            _stat(30, 10),  # a worker
            _stat(31, 30),  # its tool process server
            _stat(32, 31),  # a tool call
            _stat(40, 1),  # someone else's
        )
    }
    kinds = kinds_of(stats, {20: "Postgres", 30: "worker"})
    assert kinds == {20: "Postgres", 21: "Postgres", 30: "worker", 31: "worker", 32: "worker"}
    commands = {31: "python -m activities.tools.process_server", 32: "python -m x", 40: "y"}
    moved = renamed(kinds, commands, [("process_server", "tool processes")])
    assert moved[31] == "tool processes"
    assert moved[32] == "worker"
    assert 40 not in moved


def test_a_child_that_exits_between_snapshots_is_counted_once_through_its_parent() -> None:
    kinds = {20: "Postgres", 21: "Postgres"}
    before = cpu_ms_by_kind({20: _stat(20, 1, 100), 21: _stat(21, 20, 40)}, kinds)
    # the backend used 10 more ticks, exited, and the postmaster reaped it (cutime + cstime)
    after = cpu_ms_by_kind({20: _stat(20, 1, 105, 50)}, {20: "Postgres"})
    assert cpu_delta(before, after) == {"Postgres": 15 * 1000 / CLOCK_TICKS}


def test_memory_peaks_sum_rss_and_pss_per_kind_and_keep_the_largest_high_water_mark() -> None:
    total = add_process(add_process(KindMemory(), 100, 300, 60), 50, 80, 10)
    assert total == KindMemory(rss=150, pss=70, hwm=300)
    peaks = MemoryPeaks()
    peaks.add("Agentry", {"worker": total})
    peaks.add("Agentry", {"worker": KindMemory(120, 90, 310)})
    peaks.add("baseline", {"worker": KindMemory(999, 999, 999)})
    assert peaks.of("Agentry", "worker") == KindMemory(150, 90, 310)
    assert peaks.of("Agentry", "gateway") == KindMemory()


def _event(event_id: int, kind: int, ms: int, **attributes: object) -> HistoryEvent:
    event = HistoryEvent(event_id=event_id, event_type=kind)  # type: ignore[arg-type]
    stamp = Timestamp()
    stamp.FromMilliseconds(1_000_000 + ms)
    event.event_time.CopyFrom(stamp)
    for name, values in attributes.items():
        field = getattr(event, name)
        for key, value in values.items():  # type: ignore[attr-defined]
            if key == "activity_type":
                field.activity_type.name = value
            else:
                setattr(field, key, value)
    return event


def _one_activity_history() -> list[HistoryEvent]:
    T = EventType
    return [
        _event(1, T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 0),
        _event(2, T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 0),
        _event(
            3,
            T.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            4,
            workflow_task_started_event_attributes={"scheduled_event_id": 2},
        ),
        _event(
            4,
            T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            10,
            workflow_task_completed_event_attributes={"started_event_id": 3},
        ),
        _event(
            5,
            T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            10,
            activity_task_scheduled_event_attributes={"activity_type": "model_turn"},
        ),
        _event(6, T.EVENT_TYPE_ACTIVITY_TASK_STARTED, 11),
        _event(
            7,
            T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            40,
            activity_task_completed_event_attributes={"scheduled_event_id": 5},
        ),
        _event(8, T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 40),
        _event(
            9,
            T.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            60,
            workflow_task_started_event_attributes={"scheduled_event_id": 8},
        ),
        _event(
            10,
            T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            62,
            workflow_task_completed_event_attributes={"started_event_id": 9},
        ),
        _event(11, T.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, 62),
    ]


def test_a_history_gives_its_size_steps_and_the_time_between_them() -> None:
    events = _one_activity_history()
    stats = history_stats(events)
    assert stats.events == 11
    assert stats.bytes > sum(e.ByteSize() for e in events)  # each event framed as a field
    assert stats.run_ms == 62
    assert stats.activities == Counter({"model_turn": 1})
    assert stats.activity_ms == {"model_turn": [30.0]}
    assert stats.workflow_tasks == 2
    assert stats.workflow_task_wait_ms == [4.0, 20.0]
    assert stats.workflow_task_run_ms == [6.0, 2.0]
    summary = summarize([stats, HistoryStats(events=21, bytes=900, run_ms=1.0)])
    assert summary.events == 16
    assert summary.activities == {"model_turn": 0.5}
    assert summary.activity_p50_ms == {"model_turn": 30.0}


def _side(name: str, loaded: int, seconds: float, cpu: dict[str, float]) -> Side:
    runs = [TaskRun(client_ms=ms, workflow_id=f"w{ms}", ok=True) for ms in (100.0, 200.0, 300.0)]
    history = summarize([HistoryStats(events=50, bytes=5000, run_ms=1.0)])
    return Side(
        name=name,
        back_to_back=runs,
        spaced=runs,
        run_ms={},
        history=history,
        loaded=[runs[0]] * loaded,
        loaded_seconds=seconds,
        cpu_ms=cpu,
        counted=("worker", "Temporal"),
        slow=[TaskRun(client_ms=3000.0, workflow_id="s", ok=True)],
        peaks_kib={"worker": KindMemory(2048, 1024, 4096)},
    )


def test_figures_count_only_the_sides_processes_and_ratios_are_agentry_over_baseline() -> None:
    side = _side(
        "Agentry", loaded=10, seconds=2.0, cpu={"worker": 500.0, "Temporal": 300.0, "x": 1e6}
    )
    assert side.tasks_per_second == 5.0
    assert side.cpu_ms_per_task == 80.0
    assert (side.peak_rss_mib, side.peak_pss_mib) == (2.0, 1.0)
    assert overheads_s(side.slow, 0.5) == [0.5]
    assert ratio(3.0, 2.0) == "1.50"
    assert ratio(3.0, 0.0) == "–"
    base = _side("baseline", loaded=10, seconds=1.0, cpu={"worker": 200.0, "Temporal": 200.0})
    rows = headline(base, side, figures(0.5, 100, 20))
    assert rows[2].startswith("| task p50, one at a time (ms) | lower | 200 | 200 | **1.00** |")
    assert "| tasks/s, 100 in flight | higher | 10.0 | 5.0 | **0.50** |" in rows
    assert "| CPU ms per task, 100 in flight | lower | 40 | 80 | **2.00** |" in rows


def test_the_bench_pools_keep_productions_default_pool_and_start_no_other_worker(
    tmp_path: Path,
) -> None:
    pools = PoolCatalog.load(bench_pools(tmp_path / "pools.yaml"))
    production = PoolCatalog.load(PRODUCTION_POOLS)
    assert pools.get("default") == production.get("default")
    assert all(p.min_replicas == 0 for p in pools if production.get(p.name) is None)
    assert "helpers" in pools.names()
    local = PoolCatalog.load(bench_pools(tmp_path / "local.yaml", "local")).get("default")
    assert local is not None and local.model_turns == "local"
    assert local.max_concurrent_workflow_tasks == local.model_call_limit + POLLER_SLOTS


def test_local_activities_are_counted_by_type_from_their_markers() -> None:
    recorded = ROOT / "tests" / "workflow" / "histories" / "local_model_turns.json"
    history = WorkflowHistory.from_json("local", recorded.read_text())
    stats = history_stats(history.events)
    assert stats.activities == Counter()  # no activity task at all
    assert stats.local_activities == Counter(
        {"model_turn": 3, "run_tool": 2, "begin_task": 1, "finish_task": 1}
    )
    assert stats.workflow_tasks == 1


def test_quick_mode_picks_the_small_samples_unless_told_otherwise() -> None:
    parser = argparse.ArgumentParser()
    overhead.add_arguments(parser)
    quick = overhead.sizes(parser.parse_args(["--quick", "--tasks", "7"]))
    assert quick == {"one_at_a_time": 10, "tasks": 7, "slow_tasks": 20, "warmup": 2}
    assert overhead.sizes(parser.parse_args([]))["tasks"] == 500
