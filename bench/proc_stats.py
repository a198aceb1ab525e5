"""CPU time and memory of process trees, read from /proc (Linux) rather than through a library:
what each kind of process of a stack (a root process and its descendants) costs in a phase.

CPU of a process is utime + stime of itself plus cutime + cstime, the CPU of its children that
have exited and been reaped: a short-lived child (a forked tool call, a Postgres backend) is
counted through its parent once it is gone, and as itself while it lives, so the difference of
two snapshots counts each CPU second once.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAX_DEPTH = 64  # parent links followed up from a process to find its root


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    cpu_ticks: int  # utime + stime of the process itself
    children_ticks: int  # cutime + cstime: its children that have exited and been reaped

    @property
    def cpu_ms(self) -> float:
        return (self.cpu_ticks + self.children_ticks) * 1000 / CLOCK_TICKS


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line. The command name (in parentheses) may hold spaces and
    parentheses itself, so the fields are counted from its last `)`."""
    head, _, rest = text.rpartition(")")
    fields = rest.split()  # fields[0] is field 3 of proc(5), the state; utime is field 14
    return ProcStat(
        pid=int(head.split("(", 1)[0]),
        ppid=int(fields[1]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        children_ticks=int(fields[13]) + int(fields[14]),
    )


def parse_kib(text: str, name: str) -> int | None:
    """The value of a `Name:   1234 kB` line (/proc/<pid>/status, smaps_rollup), in KiB."""
    prefix = f"{name}:"
    for line in text.splitlines():
        if line.startswith(prefix):
            return int(line.split()[1])
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, ValueError):  # the process has just ended, or is not ours to read
        return None


def all_stats() -> dict[int, ProcStat]:
    """Every process's stat, now."""
    stats: dict[int, ProcStat] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (text := _read(entry / "stat")):
            stats[int(entry.name)] = parse_stat(text)
    return stats


def kinds_of(stats: Mapping[int, ProcStat], roots: Mapping[int, str]) -> dict[int, str]:
    """pid → the kind of the nearest root it descends from (a root is its own); processes
    below no root are left out."""
    kinds: dict[int, str] = {}
    for pid in stats:
        seen, depth = pid, 0
        while seen in stats and seen not in roots and depth < MAX_DEPTH:
            seen, depth = stats[seen].ppid, depth + 1
        if seen in roots:
            kinds[pid] = roots[seen]
    return kinds


def renamed(
    kinds: Mapping[int, str], commands: Mapping[int, str], needles: Sequence[tuple[str, str]]
) -> dict[int, str]:
    """`kinds` with a process whose command line holds a needle moved to that needle's kind
    (first match wins), say the worker's tool processes apart from the worker."""
    moved = dict(kinds)
    for pid, command in commands.items():
        kind = next((k for needle, k in needles if needle in command), None)
        if pid in moved and kind is not None:
            moved[pid] = kind
    return moved


def command_line(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def classify(
    roots: Mapping[int, str], needles: Sequence[tuple[str, str]]
) -> tuple[dict[int, ProcStat], dict[int, str]]:
    """Every process's stat now, and the kind of each one below a root."""
    stats = all_stats()
    kinds = kinds_of(stats, roots)
    if needles:
        commands = {pid: command_line(pid) for pid in kinds if pid not in roots}
        kinds = renamed(kinds, commands, needles)
    return stats, kinds


def cpu_ms_by_kind(stats: Mapping[int, ProcStat], kinds: Mapping[int, str]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for pid, kind in kinds.items():
        totals[kind] += stats[pid].cpu_ms
    return dict(totals)


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU ms per kind spent between two snapshots."""
    return {kind: after.get(kind, 0.0) - before.get(kind, 0.0) for kind in {*before, *after}}


def memory_kib(pid: int) -> tuple[int, int, int]:
    """(VmRSS, VmHWM, Pss) of a process in KiB; zeros once it has ended. Pss splits shared
    pages between their sharers, so the processes of one kind can be summed."""
    status = _read(PROC / str(pid) / "status") or ""
    rollup = _read(PROC / str(pid) / "smaps_rollup") or ""
    return (
        parse_kib(status, "VmRSS") or 0,
        parse_kib(status, "VmHWM") or 0,
        parse_kib(rollup, "Pss") or 0,
    )


@dataclass
class MemoryPeaks:
    """Peak memory per kind of process, per label (the side of the comparison running at
    the time): RSS and PSS summed over the processes of a kind at each sample."""

    rss_kib: dict[tuple[str, str], int] = field(default_factory=dict)
    pss_kib: dict[tuple[str, str], int] = field(default_factory=dict)
    hwm_kib: dict[tuple[str, str], int] = field(default_factory=dict)  # largest process's

    def add(self, label: str, sample: Mapping[str, KindMemory]) -> None:
        for kind, memory in sample.items():
            key = (label, kind)
            self.rss_kib[key] = max(self.rss_kib.get(key, 0), memory.rss)
            self.pss_kib[key] = max(self.pss_kib.get(key, 0), memory.pss)
            self.hwm_kib[key] = max(self.hwm_kib.get(key, 0), memory.hwm)

    def of(self, label: str, kind: str) -> KindMemory:
        key = (label, kind)
        return KindMemory(
            self.rss_kib.get(key, 0), self.pss_kib.get(key, 0), self.hwm_kib.get(key, 0)
        )


@dataclass(frozen=True)
class KindMemory:
    """KiB: RSS and PSS summed over a kind's processes; VmHWM, the lifetime peak RSS, of
    its largest process."""

    rss: int = 0
    pss: int = 0
    hwm: int = 0


def add_process(total: KindMemory, rss: int, hwm: int, pss: int) -> KindMemory:
    return KindMemory(total.rss + rss, total.pss + pss, max(total.hwm, hwm))


class MemorySampler:
    """Samples the trees below `roots` every `interval` seconds while `run` runs; `label`
    says which side of the comparison the samples are charged to."""

    def __init__(
        self,
        roots: Mapping[int, str],
        needles: Sequence[tuple[str, str]] = (),
        interval: float = 1.0,
    ) -> None:
        self.roots = dict(roots)
        self.needles = needles
        self.interval = interval
        self.label = "idle"
        self.peaks = MemoryPeaks()

    def sample(self) -> dict[str, KindMemory]:
        _, kinds = classify(self.roots, self.needles)
        totals: dict[str, KindMemory] = defaultdict(KindMemory)
        for pid, kind in kinds.items():
            totals[kind] = add_process(totals[kind], *memory_kib(pid))
        return dict(totals)

    async def run(self) -> None:
        while True:
            sample = await asyncio.to_thread(self.sample)
            self.peaks.add(self.label, sample)
            await asyncio.sleep(self.interval)
