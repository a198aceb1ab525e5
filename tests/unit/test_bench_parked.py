"""The pure parts of `python -m bench parked`: its options and its figures per parked task.
No timings and no stack: every input is made up here."""

from __future__ import annotations

import argparse

import pytest

from bench import Summary, parked
from bench.parked_decisions import decision_lines
from bench.parked_report import Run, Snapshot, headline, memory_table, per_task_kib, render
from bench.proc_stats import KindMemory


def _options(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parked.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_quick_mode_shrinks_only_what_is_not_given() -> None:
    assert parked.sizes(_options()) == {"tasks": 10_000, "warmup": 50, "settle": 30}
    assert parked.sizes(_options("--quick")) == {"tasks": 500, "warmup": 20, "settle": 15}
    assert parked.sizes(_options("--quick", "--tasks", "700"))["tasks"] == 700


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(SystemExit):
        parked.sizes(_options("--tasks", "0"))
    with pytest.raises(SystemExit):
        parked.sizes(_options("--window", "0"))


def test_worker_caches_default_to_the_settings_and_take_a_list() -> None:
    assert parked.worker_caches(_options()) == [1000]
    assert parked.worker_caches(_options("--worker-cache", "1000, 100")) == [1000, 100]
    for bad in ("", "x", "-1"):
        with pytest.raises(SystemExit):
            parked.worker_caches(_options("--worker-cache", bad))


def _snapshot(worker_pss: int, postgres_pss: int, database: int, parked_tasks: int) -> Snapshot:
    return Snapshot(
        memory={
            "worker": KindMemory(rss=worker_pss + 1000, pss=worker_pss),
            "Postgres": KindMemory(rss=postgres_pss * 5, pss=postgres_pss),
            "scripted model": KindMemory(rss=10**6, pss=10**6),  # not the stack's: not counted
        },
        processes={"worker": 1, "Postgres": 3},
        database_bytes=database,
        temporal_bytes=0,
        parked=parked_tasks,
    )


def _run(tasks: int, worker_growth_kib: int) -> Run:
    before = _snapshot(100_000, 50_000, 8 * 2**20, 10)
    after = _snapshot(100_000 + worker_growth_kib, 50_000 + tasks, 8 * 2**20 + tasks * 2048, 10)
    return Run(
        tasks=tasks,
        warmup=10,
        tenants=2,
        window=4,
        park_seconds=tasks / 20,
        settle_seconds=1,
        worker_cache=1000,
        temporal_cache="2000",
        cold=before,
        before=before,
        after=after,
        waited_for_admission=0,
        header=["Command: `x`."],
    )


def test_per_task_cost_is_the_growth_over_the_parked_tasks() -> None:
    assert per_task_kib(1000, 3000, 100) == 20.0
    assert per_task_kib(1000, 900, 100) == -1.0
    assert per_task_kib(1000, 3000, 0) == 0.0


def test_the_headline_sums_the_stacks_processes_only_and_compares_with_the_target() -> None:
    within = _run(1000, 40_000)  # 40 KiB worker + 1 KiB Postgres per task
    assert "41.0 KiB each in PSS" in headline(within)
    assert ": met." in headline(within)
    assert "**not met**" in headline(_run(1000, 60_000))


def test_the_table_has_a_row_per_kind_and_the_totals() -> None:
    table = memory_table(_run(1000, 40_000))
    worker = next(row for row in table if row.startswith("| worker |"))
    assert worker.endswith("| 40.0 | 40.0 |")
    assert table[-1].startswith("| **all** | 4 → 4 |")
    assert "**41.0** |" in table[-1]


def test_the_report_gives_disk_growth_per_task_and_the_rate() -> None:
    report = render([_run(1000, 40_000)])
    assert report.startswith("Command: `x`.")
    assert "| Postgres database (`pg_database_size`) | 8.0 | 10.0 | 2.00 |" in report
    assert "(20.0 tasks/s)" in report


def test_decision_latencies_are_reported_for_the_tasks_parked_first_and_last() -> None:
    lines = decision_lines(Summary.of([100.0, 300.0]), Summary.of([20.0, 30.0, 40.0]))
    assert "| parked first | 2 | 200.0 | 280.0 | 300.0 |" in lines
    assert "| parked last | 3 | 30.0 | 38.0 | 40.0 |" in lines
    run = _run(1000, 40_000)
    run.decisions[:] = lines
    assert render([run]).rstrip().endswith("| parked last | 3 | 30.0 | 38.0 | 40.0 |")
