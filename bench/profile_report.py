"""Markdown tables from what `bench/profile_task.py` wrote to its `--out` folder:

    .venv/bin/python -m bench.profile_report /tmp/agentry-profile

Prints; docs/PROFILE.md quotes it."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from google.protobuf.json_format import ParseDict
from temporalio.api.history.v1 import History

from bench import percentile
from bench.profile_reading import (
    Statement,
    TaskHistory,
    activity_windows,
    read_history,
    read_stacks,
    read_statements,
    top,
)
from bench.profile_stack import STACK_KINDS


def _history(data: dict[str, Any]) -> tuple[TaskHistory, list[tuple[float, float, str]]]:
    history = ParseDict(data, History(), ignore_unknown_fields=True)
    events = list(history.events)
    return read_history(events, len(json.dumps(data))), activity_windows(events)


def _p(values: list[float], q: float = 50) -> str:
    return f"{percentile(values, q):.1f}" if values else "–"


def latency(results: dict[str, Any]) -> list[str]:
    lines = ["## One at a time", ""]
    lines += ["| submitted | n | client p50 | client p90 | server p50 | server p90 | POST p50 |"]
    lines += ["|---|---|---|---|---|---|---|"]
    by_gap: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for run in results["serial"]:
        by_gap[run["gap_s"]].append(run)
    for gap, runs in sorted(by_gap.items()):
        c, s, p = ([r[k] for r in runs] for k in ("client_ms", "server_ms", "post_ms"))
        label = "right after the previous answer" if gap == 0 else f"{gap:g} s after it"
        lines.append(
            f"| {label} | {len(runs)} | {_p(c)} | {_p(c, 90)} | {_p(s)} | {_p(s, 90)} | {_p(p)} |"
        )
    return lines


def histories(results: dict[str, Any]) -> list[str]:
    lines = ["", "## Histories (one at a time)", ""]
    gap_of = {r["task_id"]: r["gap_s"] for r in results["serial"]}
    read = {tid: _history(h)[0] for tid, h in results["histories"].items()}
    first = next(iter(read.values()))
    lines.append(
        f"Per task: {sum(first.activities.values())} activities "
        f"({', '.join(f'{k} {v}' for k, v in first.activities.items())}), "
        f"{first.workflow_tasks} workflow tasks, {len(first.events)} events, "
        f"history {statistics.median(h.size_bytes for h in read.values()) / 1024:.1f} KiB as JSON."
    )
    for gap in sorted(set(gap_of.values())):
        group = [h for tid, h in read.items() if gap_of[tid] == gap]
        lines += ["", f"### Submitted {gap:g} s after the previous answer ({len(group)} tasks)", ""]
        wq = [v for h in group for v in h.wft_queued_ms]
        wr = [v for h in group for v in h.wft_ran_ms]
        lines.append(
            f"Workflow tasks: queued p50 {_p(wq)} / p90 {_p(wq, 90)} ms, ran p50 {_p(wr)} / "
            f"p90 {_p(wr, 90)} ms. History first → last event p50 "
            f"{_p([h.total_ms for h in group])} ms."
        )
        lines += ["", "| activity | queued p50 | ran p50 | ran p90 |", "|---|---|---|---|"]
        for name in first.activities:
            q = [v for h in group for v in h.activity_queued_ms.get(name, [])]
            r = [v for h in group for v in h.activity_ran_ms.get(name, [])]
            lines.append(f"| {name} | {_p(q)} | {_p(r)} | {_p(r, 90)} |")
        lines += ["", "| # | event | offset p50 | step p50 | offset p90 |", "|---|---|---|---|---|"]
        width = min(len(h.events) for h in group)
        previous = 0.0
        for i in range(width):
            offsets = [h.events[i][0] for h in group]
            p50 = percentile(offsets, 50)
            label = group[0].events[i][1]
            lines.append(
                f"| {i + 1} | {label} | {p50:.1f} | +{p50 - previous:.1f} | {_p(offsets, 90)} |"
            )
            previous = p50
    return lines


def statements(results: dict[str, Any], out: Path) -> list[str]:
    info = results["statements"]
    logged = read_statements(out / info["log"])
    kinds = {int(pid): kind for pid, kind in info["backends"].items()}
    harness = info["harness_backend"]
    idle_from, idle_to = info["idle_window"]
    idle = [s for s in logged if idle_from <= s.at <= idle_to and s.backend != harness]
    lines = ["", "## Postgres", "", f"Idle, per second ({idle_to - idle_from:.0f} s window):", ""]
    lines += ["| process | statements/s | round trips/s |", "|---|---|---|"]
    for kind, group in _by(idle, kinds).items():
        seconds = idle_to - idle_from
        n = sum(1 for s in group if s.phase in ("statement", "bind"))
        lines.append(
            f"| {kind} | {n / seconds:.1f} | {sum(s.round_trip for s in group) / seconds:.1f} |"
        )
    runs = info["runs"]
    ntasks = len(runs)
    start = min(r["posted_at"] for r in runs) - 0.05
    measured = [s for s in logged if s.at >= start and s.backend != harness]
    history_client = results.get("statement_histories", {})
    windows = [w for h in history_client.values() for w in _history(h)[1]]
    per_activity: dict[str, list[Statement]] = defaultdict(list)
    instances: Counter[str] = Counter(name for _, _, name in windows)
    lines += ["", f"During {ntasks} tasks one at a time, per task:", ""]
    lines += ["| process / step | statements | round trips | BEGIN+COMMIT/ROLLBACK | pings |"]
    lines += ["|---|---|---|---|---|"]
    for kind, group in _by(measured, kinds).items():
        if kind.startswith("worker") and windows:
            for s in group:
                name = next((n for a, b, n in windows if a - 0.002 <= s.at <= b + 0.002), "between")
                per_activity[name].append(s)
        lines.append(_row(kind, group, ntasks))
    for name, group in per_activity.items():
        per = instances.get(name, ntasks)
        lines.append(_row(f"  worker: {name} (per call, {per / ntasks:g} a task)", group, per))
    lines += [
        "",
        "Worker statements by kind, per task:",
        "",
        "| statement | per task |",
        "|---|---|",
    ]
    verbs = Counter(
        s.verb
        for s in measured
        if kinds.get(s.backend, "").startswith("worker") and s.phase in ("statement", "bind")
    )
    lines += [f"| {verb} | {n / ntasks:.1f} |" for verb, n in verbs.most_common()]
    return lines


def _by(statements: list[Statement], kinds: dict[int, str]) -> dict[str, list[Statement]]:
    grouped: dict[str, list[Statement]] = defaultdict(list)
    for s in statements:
        grouped[kinds.get(s.backend, "?")].append(s)
    return dict(sorted(grouped.items()))


def _row(label: str, group: list[Statement], per: float) -> str:
    executed = [s for s in group if s.phase in ("statement", "bind")]
    tx = sum(1 for s in executed if s.verb in ("BEGIN", "COMMIT", "ROLLBACK"))
    pings = sum(1 for s in executed if s.verb == "; (ping)")
    return (
        f"| {label} | {len(executed) / per:.1f} | {sum(s.round_trip for s in group) / per:.1f} "
        f"| {tx / per:.1f} | {pings / per:.1f} |"
    )


def burst(results: dict[str, Any], key: str) -> list[str]:
    data = results[key]
    n = len(data["runs"])
    lines = ["", f"## {n} at once ({key})", ""]
    server = [r["server_ms"] for r in data["runs"]]
    lines.append(
        f"{n / data['seconds']:.2f} tasks/s ({data['seconds']:.1f} s); server-side task time "
        f"p50 {_p(server)} / p90 {_p(server, 90)} ms."
    )
    lines += ["", "| process | CPU ms per task |", "|---|---|"]
    cpu = data["cpu_s"]
    for kind, seconds in sorted(cpu.items(), key=lambda item: -item[1]):
        lines.append(f"| {kind} | {1000 * seconds / n:.1f} |")
    stack = sum(cpu.get(k, 0.0) for k in STACK_KINDS)
    lines.append(f"| **stack without model servers** | **{1000 * stack / n:.1f}** |")
    lines += ["", "Worker (pool default) CPU by thread, ms per task:", ""]
    threads = sorted(data["worker_threads_cpu_s"].items(), key=lambda item: -item[1])
    lines += [", ".join(f"{name} {1000 * s / n:.1f}" for name, s in threads if s > 0)]
    lines += ["", "| process | peak PSS MiB | peak RSS MiB |", "|---|---|---|"]
    for kind, mb in sorted(data["peak_pss"].items(), key=lambda item: -item[1]):
        lines.append(f"| {kind} | {mb:.0f} | {data['peak_rss'][kind]:.0f} |")
    lines.append(
        f"| **stack without model servers** | **{data['peak_stack_pss']:.0f}** "
        f"| **{data['peak_stack_rss']:.0f}** |"
    )
    return lines


def memory(results: dict[str, Any]) -> list[str]:
    idle = results["memory_idle"]
    lines = ["", "## Memory at rest (after the warm-up)", ""]
    lines += ["| process | count | RSS MiB | PSS MiB |", "|---|---|---|---|"]
    for kind, mb in sorted(idle["pss"].items(), key=lambda item: -item[1]):
        lines.append(f"| {kind} | {idle['count'][kind]} | {idle['rss'][kind]:.0f} | {mb:.0f} |")
    rss = sum(idle["rss"].get(k, 0.0) for k in STACK_KINDS)
    pss = sum(idle["pss"].get(k, 0.0) for k in STACK_KINDS)
    lines.append(f"| **stack without model servers** | | **{rss:.0f}** | **{pss:.0f}** |")
    return lines


def proxy_hop(results: dict[str, Any]) -> list[str]:
    lines = ["", "## LiteLLM's hop (one completion at a time)", ""]
    for mode, key in (("streamed", "proxy_hop"), ("not streamed", "proxy_hop_plain")):
        if f"{key}_ms" not in results:
            continue
        hop = results[f"{key}_ms"]
        n = len(hop["litellm"])
        cpu = results[f"{key}_cpu_s"].get("LiteLLM", 0.0)
        lines.append(
            f"- {mode}: direct p50 {_p(hop['direct'])} ms, through LiteLLM p50 "
            f"{_p(hop['litellm'])} ms (p90 {_p(hop['litellm'], 90)}); LiteLLM CPU "
            f"{1000 * cpu / n:.1f} ms per call."
        )
    return lines


def stacks(out: Path, results: dict[str, Any]) -> list[str]:
    lines = ["", "## py-spy"]
    for name, path in results.get("pyspy_files", {}).items():
        summary = read_stacks(Path(path))
        total = summary.samples
        lines += ["", f"### {name} ({total} samples)", ""]
        lines += ["| module | self % | total % |", "|---|---|---|"]
        for module, _count, share in top(summary.self_by_module, total):
            inclusive = 100 * summary.total_by_module[module] / total
            lines.append(f"| {module} | {share:.1f} | {inclusive:.1f} |")
        lines += ["", "| function (self) | self % |", "|---|---|"]
        lines += [f"| {f} | {share:.1f} |" for f, _, share in top(summary.self_by_function, total)]
        lines += ["", "| function (total) | total % |", "|---|---|"]
        lines += [
            f"| {f} | {share:.1f} |" for f, _, share in top(summary.total_by_function, total, 30)
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_report", description=__doc__)
    parser.add_argument("out", type=Path)
    out = parser.parse_args().out
    results = json.loads((out / "results.json").read_text())
    lines: list[str] = []
    if "serial" in results:
        lines += latency(results) + histories(results)
    if "statements" in results:
        lines += statements(results, out)
    if "proxy_hop_ms" in results:
        lines += proxy_hop(results)
    for key in ("burst", "burst_pyspy"):
        if key in results:
            lines += burst(results, key)
    lines += memory(results) + stacks(out, results)
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
