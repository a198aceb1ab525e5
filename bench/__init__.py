"""Benchmark harness: figures are measured here and recorded in docs/BENCHMARKS.md, never
asserted in tests (a loaded CI machine must not fail the suite).

`python -m bench` runs every benchmark with its defaults (what `make bench` does);
`python -m bench --list` names them; `python -m bench <name> --help` shows a benchmark's options.
This module holds what the benchmarks share: percentiles, the machine's description and the
update of one section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "docs" / "BENCHMARKS.md"
DOC_INTRO = (
    "# Benchmarks\n\n"
    "Measured with `make bench` (or `.venv/bin/python -m bench <name>`), on loopback, against the\n"
    "embedded stack the dev supervisor starts. Each benchmark rewrites its own section below.\n"
    "Figures are recorded, never asserted in tests.\n"
)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), interpolating linearly between the closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(
            n=len(values),
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
            max=max(values),
        )


def _command_output(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return ""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def machine() -> str:
    """One line: cores (`nproc`), CPU model (`lscpu`), memory (`free -h`), GPU, OS, Python."""
    cores = _command_output(["nproc"]).strip() or str(os.cpu_count())
    model = re.search(r"^Model name:\s*(.+)$", _command_output(["lscpu"]), re.MULTILINE)
    memory = re.search(r"^Mem:\s+(\S+)", _command_output(["free", "-h"]), re.MULTILINE)
    has_gpu = shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()
    return (
        f"{cores} cores ({model.group(1).strip() if model else platform.processor() or '?'}), "
        f"{memory.group(1) if memory else '?'} RAM, {'a GPU' if has_gpu else 'no GPU'}; "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def update_section(title: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace the `## <title>` section of the file (or append it); other sections stay."""
    text = path.read_text() if path.exists() else DOC_INTRO
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = f"{text.rstrip()}\n\n{section}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
