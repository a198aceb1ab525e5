"""Two runs side by side: what a loop change did per category, and which tasks flipped.

A change to the loop is kept only if the set says it helps and no category gets worse
(docs/EVALS.md); this is the table that says so.
"""

from __future__ import annotations

from typing import Any


def comparison(before: dict[str, Any], after: dict[str, Any]) -> str:
    lines = [
        f"Compared with the run of {before['at'][:16]} ({before.get('label') or 'no label'}):",
        "",
        "| category | completed before | after | model calls ÷ shortest before | after |",
        "|---|---:|---:|---:|---:|",
    ]
    old, new = before["summary"], after["summary"]
    for name in new:
        was = old.get(name)
        if was is None:
            continue
        now = new[name]
        worse = " ⚠" if now["completed"] < was["completed"] else ""
        lines.append(
            f"| {name} | {was['completed']}/{was['tasks']} | {now['completed']}/{now['tasks']}"
            f"{worse} | {was['calls_ratio']:.2f} | {now['calls_ratio']:.2f} |"
        )
    was_ok = {s["key"]: s["completed"] for s in before["scores"]}
    flips = [
        f"- {s['key']}: {'now right' if s['completed'] else 'now wrong'}"
        for s in after["scores"]
        if s["key"] in was_ok and was_ok[s["key"]] != s["completed"]
    ]
    return "\n".join([*lines, "", *(flips or ["No task changed outcome."])]) + "\n"
