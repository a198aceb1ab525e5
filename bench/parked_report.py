"""The figures and the report of `bench/parked.py`: what each parked task costs, from two
snapshots of the stack's processes and files (before and after the tasks were parked)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.proc_stats import KindMemory

TARGET_KIB = 50.0  # issue 13: ≤ 50 KiB per parked task across all processes
KINDS = ("gateway", "worker", "tool processes", "Temporal", "Postgres", "LiteLLM")


@dataclass(frozen=True)
class Snapshot:
    """The stack at one moment: memory and process count per kind, bytes on disk."""

    memory: Mapping[str, KindMemory]
    processes: Mapping[str, int]
    database_bytes: int  # pg_database_size of the service's database
    temporal_bytes: int  # the dev server's SQLite file with its -wal and -shm
    parked: int  # tasks in waiting_approval

    def total(self, attribute: str) -> int:
        return sum(getattr(self.memory.get(kind, KindMemory()), attribute) for kind in KINDS)


@dataclass(frozen=True)
class Run:
    tasks: int  # parked between the two snapshots
    warmup: int  # parked before the first one
    tenants: int
    window: int  # submitted but not yet parked, at most
    park_seconds: float  # first submit → all parked
    settle_seconds: float
    worker_cache: int  # worker_max_cached_workflows
    temporal_cache: str  # the dev server's history.hostLevelCacheMaxSize
    cold: Snapshot  # just after the stack started
    before: Snapshot  # the warm-up tasks parked, settled
    after: Snapshot  # every task parked, settled
    waited_for_admission: int  # tasks that ever waited for a tenant slot (should be 0)
    header: list[str] = field(default_factory=list)  # command, machine, date, load
    decisions: list[str] = field(default_factory=list)  # bench/parked_decisions.py's lines

    @property
    def rate(self) -> float:
        return self.tasks / self.park_seconds if self.park_seconds > 0 else 0.0


def per_task_kib(before: int, after: int, tasks: int) -> float:
    """KiB per task of the growth from `before` to `after` (KiB, or bytes / 1024 given)."""
    return (after - before) / tasks if tasks > 0 else 0.0


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def memory_table(run: Run) -> list[str]:
    lines = [
        "| process | count before → after | RSS before | RSS after | PSS before | PSS after "
        "| ΔRSS per task (KiB) | ΔPSS per task (KiB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        b, a = run.before.memory.get(kind, KindMemory()), run.after.memory.get(kind, KindMemory())
        lines.append(
            f"| {kind} | {run.before.processes.get(kind, 0)} → {run.after.processes.get(kind, 0)} "
            f"| {_mib(b.rss)} | {_mib(a.rss)} | {_mib(b.pss)} | {_mib(a.pss)} "
            f"| {per_task_kib(b.rss, a.rss, run.tasks):.1f} "
            f"| {per_task_kib(b.pss, a.pss, run.tasks):.1f} |"
        )
    rss, pss = run.before.total("rss"), run.before.total("pss")
    rss_after, pss_after = run.after.total("rss"), run.after.total("pss")
    lines.append(
        f"| **all** | {sum(run.before.processes.values())} → {sum(run.after.processes.values())} "
        f"| {_mib(rss)} | {_mib(rss_after)} | {_mib(pss)} | {_mib(pss_after)} "
        f"| **{per_task_kib(rss, rss_after, run.tasks):.1f}** "
        f"| **{per_task_kib(pss, pss_after, run.tasks):.1f}** |"
    )
    return lines


def disk_lines(run: Run) -> list[str]:
    def row(name: str, attribute: str) -> str:
        b, a = getattr(run.before, attribute), getattr(run.after, attribute)
        return (
            f"| {name} | {b / 2**20:.1f} | {a / 2**20:.1f} "
            f"| {per_task_kib(b, a, run.tasks) / 1024:.2f} |"
        )

    return [
        "| on disk | before (MiB) | after (MiB) | per task (KiB) |",
        "|---|---:|---:|---:|",
        row("Postgres database (`pg_database_size`)", "database_bytes"),
        row("Temporal SQLite file (+ -wal, -shm)", "temporal_bytes"),
    ]


def headline(run: Run) -> str:
    pss = per_task_kib(run.before.total("pss"), run.after.total("pss"), run.tasks)
    rss = per_task_kib(run.before.total("rss"), run.after.total("rss"), run.tasks)
    met = "met" if pss <= TARGET_KIB else "**not met**"
    return (
        f"**{run.tasks} parked tasks cost {pss:.1f} KiB each in PSS summed over the stack's "
        f"processes ({rss:.1f} KiB in RSS)**, against a target of ≤ {TARGET_KIB:.0f} KiB: {met}."
    )


def render(runs: Sequence[Run]) -> str:
    lines = list(runs[0].header)
    lines += [
        "",
        "Each task of the `bench-parked` agent (bench/agents/) has the scripted model, behind "
        "LiteLLM, ask for one `write_file` call, which the agent's approval policy holds: the "
        "task parks in `waiting_approval` with its approval's 24 h deadline timer, and nobody "
        "decides. The `default` pool is as production declares it (deploy/pools.yaml, one "
        "worker). Warm-up tasks park first and the stack settles; then the measured tasks are "
        "submitted through the gateway, round-robin over the tenants, with at most a window "
        "of them submitted and not yet parked (so no tenant reaches its running cap: a parked "
        "task holds no slot), and the stack settles again. Memory is read from /proc: RSS and "
        "PSS (shared pages split between their sharers, so PSS sums across processes) summed "
        "per kind of process, each kind a process the dev supervisor started with its "
        "descendants (Postgres: the postmaster and every backend, whose RSS each counts the "
        "shared buffers it has touched: summed, RSS overstates Postgres, PSS does not). The "
        "harness's scripted model and webhook receiver are not counted. No garbage collection "
        "is forced. The worker's sticky cache and the Temporal history service's cache of "
        "workflows' mutable state hold at most the number of workflows each heading gives, so "
        "their share per task falls once more tasks than that are parked. MiB unless marked; "
        "per task = (after − before) ÷ parked tasks.",
    ]
    for run in runs:
        lines += [
            "",
            f"### {run.tasks} tasks; caches: worker {run.worker_cache}, Temporal "
            f"{run.temporal_cache} workflows",
            "",
            headline(run),
            "",
            f"{run.warmup} warm-up tasks parked first; {run.tasks} measured tasks over "
            f"{run.tenants} tenants, at most {run.window} unparked at once, parked in "
            f"{run.park_seconds:.0f} s ({run.rate:.1f} tasks/s); {run.settle_seconds:.0f} s "
            f"settling before each snapshot; {run.waited_for_admission} tasks ever waited for "
            f"a tenant slot. Stack at rest just after its start: RSS "
            f"{_mib(run.cold.total('rss'))}, PSS {_mib(run.cold.total('pss'))}.",
            "",
            *memory_table(run),
            "",
            *disk_lines(run),
            *run.decisions,
        ]
    return "\n".join(lines) + "\n"
