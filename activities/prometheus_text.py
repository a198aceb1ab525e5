"""Prometheus text exposition format, read just far enough to take a model server's gauges.

Both llama.cpp and SGLang serve `/metrics` in the text format (version 0.0.4). The workers need a
few gauges from it, so this small reader avoids a dependency: it keeps every sample line
(`name{labels} value [timestamp]`), skips comments, and drops a line it cannot read rather than
failing the whole scrape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^(?P<name>{_NAME})(?:\{{(?P<labels>.*)\}})?\s+(?P<value>\S+)(?:\s+-?\d+)?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True)
class Sample:
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


def parse_samples(text: str) -> list[Sample]:
    """Every readable sample in `text`, in order."""
    samples = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = _labels(match.group("labels") or "")
        try:
            value = float(match.group("value"))  # also "NaN", "+Inf", "-Inf"
        except ValueError:
            continue
        if labels is not None:
            samples.append(Sample(match.group("name"), value, labels))
    return samples


def _labels(text: str) -> dict[str, str] | None:
    """The label set; None when it is malformed (the sample is then dropped)."""
    labels: dict[str, str] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _LABEL.match(text, position)
        if match is None:
            return None
        value = re.sub(r"\\[\\\"n]", lambda m: _ESCAPES[m.group(0)], match.group(2))
        labels[match.group(1)] = value
        position = match.end()
    return labels
