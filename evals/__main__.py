"""`python -m evals` (what `make eval` runs): the eval set against the running stack.

Prints each case as it finishes, then the report; writes the report to the "Latest run"
section of docs/EVALS.md (`--no-write`: only prints) and the scores as JSON under
`.agentry/evals/`, so two runs can be compared (`--compare FILE`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import machine, update_section
from evals import EVALS_MD
from evals.cases import CASES_DIR, load_cases
from evals.compare import comparison
from evals.report import as_json, markdown, summary
from evals.runner import EvalAborted, Run, client_for, run_cases
from evals.scoring import score
from services.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__)
    parser.add_argument("--cases", type=Path, default=CASES_DIR, help="the set's directory")
    parser.add_argument("--category", action="append", help="only these categories")
    parser.add_argument("--case", action="append", help="only these cases (category/id)")
    # one at a time by default: a model server batching several requests gives slightly
    # different tokens at temperature 0, so concurrent runs are not repeatable
    parser.add_argument("--at-once", type=int, default=1, help="tasks in flight (default 1)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per task")
    parser.add_argument(
        "--model", help="a model group for every task instead of its agent's (POST /v1/tasks)"
    )
    parser.add_argument("--label", default="", help="what this run measures, for the report")
    parser.add_argument("--compare", type=Path, help="an earlier run's JSON to compare with")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/EVALS.md")
    args = parser.parse_args(argv)

    cases = load_cases(args.cases)
    if args.category:
        cases = [case for case in cases if case.category in args.category]
    if args.case:
        cases = [case for case in cases if case.key in args.case]
    if not cases:
        print("evals: no case matches", file=sys.stderr)
        return 2
    settings = get_settings()
    extra = {"model": args.model} if args.model else {}
    try:
        runs = asyncio.run(_run(settings, cases, args.at_once, args.timeout, extra))
    except EvalAborted as exc:
        print(f"evals: {exc}", file=sys.stderr)
        return 2
    except httpx.TransportError as exc:
        where = settings.resolved_gateway_url
        print(
            f"evals: cannot reach the gateway at {where} ({exc}); is `make run` up?",
            file=sys.stderr,
        )
        return 2
    scores = [score(run) for run in runs]

    started = datetime.now(UTC)
    heading = (
        f"{len(scores)} tasks, {started:%Y-%m-%d %H:%M} UTC, {args.at_once} at a time"
        + f", model {args.model or 'of each agent'}"
        + (f": {args.label}" if args.label else "")
        + f". Machine: {machine()}."
    )
    report = markdown(scores, heading)
    record: dict[str, Any] = {
        "at": started.isoformat(),
        "label": args.label,
        "summary": summary(scores),
        "scores": as_json(scores),
    }
    if args.compare:
        report += "\n" + comparison(json.loads(args.compare.read_text()), record)
    print(report)
    out = settings.data_dir / "evals" / f"{started:%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1, default=str))
    print(f"scores: {out}", file=sys.stderr)
    if not args.no_write:
        update_section("Latest run", report, EVALS_MD)
    return 0


async def _run(
    settings: Any, cases: list[Any], at_once: int, timeout: float, extra: dict[str, Any]
) -> list[Run]:
    def progress(run: Run) -> None:
        item = score(run)
        mark = "ok  " if item.completed else "FAIL"
        why = "; ".join(item.failures)
        print(f"{mark} {item.key} ({run.seconds:.1f} s) {why}", file=sys.stderr)

    async with client_for(settings) as api:
        return await run_cases(api, cases, at_once, timeout, extra, progress)


if __name__ == "__main__":
    sys.exit(main())
