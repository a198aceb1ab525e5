"""Eval harness: the eval set (evals/cases/), run against the running stack through its REST
API, scored by code, reported in docs/EVALS.md. Figures are recorded, never asserted in tests.

`make eval` (or `.venv/bin/python -m evals --help`) runs it. Trajectory replay (`agentry eval
save` / `agentry eval replay`: a finished task kept as a case and compared when re-run) lives in
evals/replay/.
"""

from __future__ import annotations

from pathlib import Path

EVALS_MD = Path(__file__).parent.parent / "docs" / "EVALS.md"
