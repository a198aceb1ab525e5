"""The eval run as Markdown: per category, then per task with why each failure failed."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from evals.scoring import Score

ALL = "all"


def summary(scores: list[Score]) -> dict[str, dict[str, Any]]:
    """Category → its figures, and `all` for the whole set (kept as JSON to compare runs)."""
    groups: dict[str, list[Score]] = {}
    for item in scores:
        groups.setdefault(item.category, []).append(item)
    groups[ALL] = scores
    return {name: _figures(group) for name, group in groups.items()}


def _figures(group: list[Score]) -> dict[str, Any]:
    hit_errors = [s for s in group if s.recovered is not None]
    return {
        "tasks": len(group),
        "completed": sum(s.completed for s in group),
        "calls_ratio": sum(s.model_calls for s in group) / max(1, sum(s.shortest for s in group)),
        "right_tools": sum(s.right_tools for s in group),
        "invalid_calls": sum(s.invalid_calls for s in group),
        "hit_errors": len(hit_errors),
        "recovered": sum(bool(s.recovered) for s in hit_errors),
        "budget_stops": sum(s.budget_stop for s in group),
        "p50_seconds": statistics.median(s.seconds for s in group),
        "mean_tokens": statistics.fmean(s.tokens for s in group),
    }


def markdown(scores: list[Score], heading: str) -> str:
    figures = summary(scores)
    lines = [
        heading,
        "",
        "| category | tasks | completed | model calls ÷ shortest | right tools | invalid calls "
        "| recovered after a tool error | budget stops | p50 s | tokens/task |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in figures.items():
        label = "**all**" if name == ALL else name
        lines.append(
            f"| {label} | {f['tasks']} | {f['completed']} ({_pct(f['completed'], f['tasks'])}) "
            f"| {f['calls_ratio']:.2f} | {_pct(f['right_tools'], f['tasks'])} "
            f"| {f['invalid_calls']} | {f['recovered']}/{f['hit_errors']} | {f['budget_stops']} "
            f"| {f['p50_seconds']:.1f} | {f['mean_tokens']:.0f} |"
        )
    lines += [
        "",
        "| task | ok | model calls (shortest) | tools called | s | tokens | what went wrong |",
        "|---|:-:|---:|---|---:|---:|---|",
    ]
    for item in scores:
        wrong = "; ".join(item.failures)
        if item.failures and item.answer:
            wrong += f" — answer: {_cell(item.answer, 120)}"
        lines.append(
            f"| {item.key} | {'✓' if item.completed else '✗'} | {item.model_calls} "
            f"({item.shortest}) | {', '.join(item.tools_called) or '—'} | {item.seconds:.1f} "
            f"| {item.tokens} | {_cell(wrong, 300)} |"
        )
    return "\n".join(lines) + "\n"


def as_json(scores: Iterable[Score]) -> list[dict[str, Any]]:
    return [asdict(item) for item in scores]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "—"


def _cell(text: str, limit: int) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
