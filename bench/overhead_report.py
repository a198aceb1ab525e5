"""The figures of `bench/overhead.py` from what its phases measured, and their Markdown: each
figure for the baseline and for Agentry, and Agentry's as a ratio to the baseline's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench import percentile
from bench.overhead_drivers import TOOL_CALLS, TaskRun
from bench.overhead_history import HistorySummary
from bench.proc_stats import KindMemory

MODEL_CALLS = TOOL_CALLS + 1
MIB = 1024  # KiB
COMPLETIONS = {
    "temporal": "the task's workflow result through a Temporal client, as for the baseline",
    "wait": "GET /v1/tasks/{id}?wait=",
}
COMPLETION_NOTE = (
    " Agentry's client waits on the workflow, as the baseline's does; `--completion wait` "
    "waits on `GET /v1/tasks/{id}?wait=` instead (what a REST client does)."
)


@dataclass
class Side:
    """Everything one side of the comparison measured."""

    name: str
    back_to_back: list[TaskRun]  # one at a time, each submitted once the last was done
    spaced: list[TaskRun]  # one at a time, `gap` seconds after the last was done
    run_ms: dict[str, list[float]]  # schedule → Temporal's workflow run times (histories)
    history: HistorySummary  # of the one-at-a-time tasks
    loaded: list[TaskRun]  # the throughput phase
    loaded_seconds: float
    cpu_ms: dict[str, float]  # per process kind over the throughput phase
    counted: tuple[str, ...]  # the kinds whose CPU is this side's
    slow: list[TaskRun]  # the slow-model phase
    peaks_kib: dict[str, KindMemory] = field(default_factory=dict)

    @property
    def tasks_per_second(self) -> float:
        return len(self.loaded) / self.loaded_seconds

    @property
    def cpu_ms_per_task(self) -> float:
        return sum(self.cpu_ms.get(kind, 0.0) for kind in self.counted) / len(self.loaded)

    @property
    def peak_rss_mib(self) -> float:
        return sum(m.rss for m in self.peaks_kib.values()) / MIB

    @property
    def peak_pss_mib(self) -> float:
        return sum(m.pss for m in self.peaks_kib.values()) / MIB

    @property
    def failed(self) -> int:
        runs = [*self.back_to_back, *self.spaced, *self.loaded, *self.slow]
        return sum(1 for run in runs if not run.ok)


def client_ms(runs: Sequence[TaskRun]) -> list[float]:
    return [run.client_ms for run in runs]


def overheads_s(runs: Sequence[TaskRun], model_seconds: float) -> list[float]:
    """Each task's wall time less what its model calls took by themselves."""
    return [run.client_ms / 1000 - MODEL_CALLS * model_seconds for run in runs]


def ratio(agentry: float, baseline: float) -> str:
    return f"{agentry / baseline:.2f}" if baseline else "–"


@dataclass(frozen=True)
class Figure:
    label: str
    better: str  # "lower" or "higher"
    value: Callable[[Side], float]
    fmt: str


def figures(model_seconds: float, concurrency: int, slow_concurrency: int) -> list[Figure]:
    def overhead(side: Side) -> float:
        return percentile(overheads_s(side.slow, model_seconds), 50)

    return [
        Figure(
            "task p50, one at a time (ms)",
            "lower",
            lambda s: percentile(client_ms(s.back_to_back), 50),
            ".0f",
        ),
        Figure(
            "task p99, one at a time (ms)",
            "lower",
            lambda s: percentile(client_ms(s.back_to_back), 99),
            ".0f",
        ),
        Figure(f"tasks/s, {concurrency} in flight", "higher", lambda s: s.tasks_per_second, ".1f"),
        Figure(
            f"+{model_seconds * 1000:.0f} ms model, {slow_concurrency} in flight: overhead p50 (s)",
            "lower",
            overhead,
            ".2f",
        ),
        Figure(
            f"CPU ms per task, {concurrency} in flight", "lower", lambda s: s.cpu_ms_per_task, ".0f"
        ),
        Figure("peak RSS, its processes summed (MiB)", "lower", lambda s: s.peak_rss_mib, ".0f"),
        Figure("peak PSS, its processes summed (MiB)", "lower", lambda s: s.peak_pss_mib, ".0f"),
        Figure("history events per task", "lower", lambda s: s.history.events, ".0f"),
        Figure("history bytes per task", "lower", lambda s: s.history.bytes, ".0f"),
    ]


def headline(base: Side, agentry: Side, shown: Sequence[Figure]) -> list[str]:
    lines = [
        "| figure | better | baseline | Agentry | Agentry ÷ baseline |",
        "|---|---|---:|---:|---:|",
    ]
    for f in shown:
        b, a = f.value(base), f.value(agentry)
        lines.append(f"| {f.label} | {f.better} | {b:{f.fmt}} | {a:{f.fmt}} | **{ratio(a, b)}** |")
    return lines


def one_at_a_time_table(sides: Sequence[Side], gap: float) -> list[str]:
    lines = [
        "| side | submitted | n | task p50 | task p99 | workflow run p50 "
        "| created → finished p50 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for side in sides:
        for schedule, runs in (
            ("back-to-back", side.back_to_back),
            (f"{gap:g} s apart", side.spaced),
        ):
            times = client_ms(runs)
            run_ms = side.run_ms.get(schedule, [])
            server = [r.server_ms for r in runs if r.server_ms is not None]
            lines.append(
                f"| {side.name} | {schedule} | {len(runs)} | {percentile(times, 50):.0f} "
                f"| {percentile(times, 99):.0f} | {_p50(run_ms)} | {_p50(server)} |"
            )
    return lines


def _p50(values: Sequence[float]) -> str:
    return f"{percentile(values, 50):.0f}" if values else "–"


def process_table(sides: Sequence[Side], driver_cpu_ms: dict[str, float]) -> list[str]:
    """Per process kind and side: CPU ms per task in the throughput phase, peak RSS and PSS."""
    lines = [
        "| side | process | CPU ms per task | peak RSS (MiB) | peak PSS (MiB) "
        "| VmHWM, largest process (MiB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for side in sides:
        tasks = len(side.loaded)
        for kind in sorted(side.counted, key=lambda k: -side.cpu_ms.get(k, 0.0)):
            m = side.peaks_kib.get(kind, KindMemory())
            lines.append(
                f"| {side.name} | {kind} | {side.cpu_ms.get(kind, 0.0) / tasks:.1f} "
                f"| {m.rss / MIB:.0f} | {m.pss / MIB:.0f} | {m.hwm / MIB:.0f} |"
            )
        lines.append(
            f"| {side.name} | **all** | **{side.cpu_ms_per_task:.1f}** "
            f"| **{side.peak_rss_mib:.0f}** | **{side.peak_pss_mib:.0f}** | – |"
        )
        if side.name in driver_cpu_ms:
            lines.append(
                f"| {side.name} | (the bench process: client, not counted) "
                f"| {driver_cpu_ms[side.name] / tasks:.1f} | – | – | – |"
            )
    return lines


def history_table(sides: Sequence[Side]) -> list[str]:
    lines = [
        "| side | activities per task (p50 ms each, scheduled → completed) | local activities "
        "per task | workflow tasks | workflow task wait p50 / p90 (ms) "
        "| workflow task run p50 / p90 (ms) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for side in sides:
        h = side.history
        activities = ", ".join(
            f"{name} ×{count:g} ({h.activity_p50_ms.get(name, 0.0):.1f})"
            for name, count in sorted(h.activities.items(), key=lambda item: -item[1])
        )
        local = ", ".join(
            f"{name} ×{count:g}"
            for name, count in sorted(h.local_activities.items(), key=lambda item: -item[1])
        )
        wait, run = h.workflow_task_wait_ms, h.workflow_task_run_ms
        lines.append(
            f"| {side.name} | {h.activities_total:g}: {activities or '–'} "
            f"| {sum(h.local_activities.values()):g}: {local or '–'} | {h.workflow_tasks:.0f} "
            f"| {wait[0]:.1f} / {wait[1]:.1f} | {run[0]:.1f} / {run[1]:.1f} |"
        )
    return lines


def slow_table(sides: Sequence[Side], model_seconds: float) -> list[str]:
    lines = [
        "| side | n | task p50 (s) | overhead p50 (s) | overhead p90 (s) | overhead max (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for side in sides:
        over = overheads_s(side.slow, model_seconds)
        lines.append(
            f"| {side.name} | {len(side.slow)} | {percentile(client_ms(side.slow), 50) / 1000:.2f} "
            f"| {percentile(over, 50):.2f} | {percentile(over, 90):.2f} | {max(over):.2f} |"
        )
    return lines


def render(
    base: Side,
    agentry: Side,
    drivers_cpu: dict[str, float],
    shown: Sequence[Figure],
    header: Sequence[str],
    gap: float,
    model_seconds: float,
    completion: str,
    model_turns: str | None = None,
) -> str:
    pool = "pool `default` as deploy/pools.yaml declares it"
    if model_turns is not None:
        pool += (
            f" but with `model_turns: {model_turns}` (`--model-turns`, with the workflow-task "
            "slots local turns need)"
        )
    lines = [
        *header,
        "",
        f"The job: the scripted model, behind the LiteLLM proxy, answers at once with one "
        f"calculator call per turn {TOOL_CALLS} times, then answers ({MODEL_CALLS} model calls, "
        f"{TOOL_CALLS} tool calls; agent `bench-overhead`, {pool}, one worker). The baseline, "
        "in the same run on the same Temporal dev server "
        "(the stack's: SQLite with WAL, eager activities and workflow start): a bare workflow "
        f"running {2 * TOOL_CALLS + 1} activities in a row (bench/overhead_workflow.py), in a "
        "worker process of its own on uvloop with Temporal's default sandbox and the pool's "
        "concurrency limits, started by this process's Temporal client. A task's time is the "
        "client's: from just before the submit (POST /v1/tasks; start_workflow) to the answer "
        f"that it is done ({COMPLETIONS[completion]}; the workflow's result). Every figure is "
        "measured for the baseline, then for Agentry. *Overhead* = task time − "
        f"{MODEL_CALLS} × {model_seconds * 1000:.0f} ms, the model's own time (the baseline's "
        f'{MODEL_CALLS} "model" activities sleep that long).',
        "",
        *headline(base, agentry, shown),
        "",
        "Ratios are Agentry ÷ baseline: for *tasks/s* above 1 is better, for the rest below 1."
        + (COMPLETION_NOTE if completion == "temporal" else ""),
        "",
        "**One at a time**, back-to-back (each task submitted as soon as the previous was "
        f"done) and {gap:g} s apart; times in ms. *Workflow run*: WorkflowExecutionStarted → "
        "its closing event, in Temporal's history; *created → finished*: the task row's "
        "timestamps (server side, Agentry only).",
        "",
        *one_at_a_time_table([base, agentry], gap),
        "",
        "**Processes**: CPU is user + system time of each process and its reaped children, "
        "read from /proc at the start and end of the throughput phase, per task. Memory is "
        "sampled every second during the side's phases, summed over the processes of a kind "
        "(Postgres with its backends): RSS counts a shared page (Postgres's shared buffers) once "
        "per process that maps it, PSS splits it between them; VmHWM is the lifetime peak RSS "
        "of the kind's largest process, start-up included. The baseline counts its worker and "
        "Temporal; "
        "Agentry counts its gateway, worker, the worker's tool processes, Temporal, Postgres and "
        "LiteLLM; neither counts the scripted model or this process (its client, shown apart).",
        "",
        *process_table([base, agentry], drivers_cpu),
        "",
        f"**Histories** of the one-at-a-time tasks ({agentry.history.tasks} per side): "
        "activities per task with each one's p50 time from scheduled to completed, local "
        "activities per task (each a marker in the history), workflow "
        "tasks per task (p50), a workflow task's wait (scheduled → started) and run "
        "(started → completed).",
        "",
        *history_table([base, agentry]),
        "",
        f"**+{model_seconds * 1000:.0f} ms model**, overhead per task:",
        "",
        *slow_table([base, agentry], model_seconds),
    ]
    failed = {side.name: side.failed for side in (base, agentry) if side.failed}
    lines += [
        "",
        "Tasks not as scripted (not succeeded, or other than "
        f"{MODEL_CALLS} model and {TOOL_CALLS} tool calls): "
        + (", ".join(f"{k} {v}" for k, v in failed.items()) if failed else "none")
        + ".",
    ]
    return "\n".join(lines) + "\n"
