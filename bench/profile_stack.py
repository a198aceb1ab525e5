"""The processes of a running embedded stack as `bench/profile_task.py` sees them: which is
which, their CPU time and memory, the Postgres backends each one holds, and py-spy attached
to a few of them."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil

# which process a command line belongs to (first match wins)
KINDS = (
    ("process_server", "tool process server"),
    ("scripted_model", "scripted model"),
    ("webhook_receiver", "webhook receiver"),
    ("py-spy", "py-spy"),
    ("bin/litellm", "LiteLLM"),  # its executable: a checkout path may hold "litellm"
    ("temporal", "Temporal"),
    ("postgres", "Postgres"),
    ("--pool default", "worker (pool default)"),
    ("--pool helpers", "worker (pool helpers)"),
    (" worker", "worker (other pools)"),
    ("gateway", "gateway"),
)
STACK_KINDS = (
    "gateway",
    "worker (pool default)",
    "worker (pool helpers)",
    "worker (other pools)",
    "tool process server",
    "LiteLLM",
    "Temporal",
    "Postgres",
)
"""The stack without model servers (the scripted model and the webhook receiver are the
harness's stand-ins, not part of the service)."""
PY_SPY = Path(sys.executable).parent / "py-spy"


def kind_of(process: psutil.Process) -> str | None:
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return None
    return next((kind for needle, kind in KINDS if needle in command), None)


def stack_processes() -> dict[int, str]:
    """pid → kind of every process below this one."""
    found = {}
    for process in psutil.Process().children(recursive=True):
        kind = kind_of(process)
        if kind is not None:
            found[process.pid] = kind
    return found


def first_pid(kind: str) -> int:
    return min(pid for pid, k in stack_processes().items() if k == kind)


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """pid → (kind, user + system seconds, its waited-for children's included)."""
    taken = {}
    for pid, kind in stack_processes().items():
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            taken[pid] = (kind, t.user + t.system + t.children_user + t.children_system)
    return taken


def cpu_by_kind(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """Seconds of CPU each kind used between two `cpu_seconds()` readings."""
    used: Counter[str] = Counter()
    for pid, (kind, seconds) in after.items():
        used[kind] += seconds - before.get(pid, (kind, 0.0))[1]
    return dict(used)


def thread_cpu(pid: int) -> dict[str, float]:
    """A process's CPU seconds by thread name (`/proc/<pid>/task/<tid>/comm`): the Temporal
    SDK's Rust core runs in threads of its own, which py-spy does not sample."""
    by_name: Counter[str] = Counter()
    for thread in psutil.Process(pid).threads():
        try:
            name = Path(f"/proc/{pid}/task/{thread.id}/comm").read_text().strip()
        except OSError:
            name = "?"
        by_name[name.rstrip("0123456789-_ ") or name] += thread.user_time + thread.system_time
    return dict(by_name)


@dataclass
class Memory:
    """MiB per kind: RSS and PSS summed over the kind's processes, and how many there are."""

    rss: Counter[str] = field(default_factory=Counter)
    pss: Counter[str] = field(default_factory=Counter)
    count: Counter[str] = field(default_factory=Counter)


def memory() -> Memory:
    taken = Memory()
    for pid, kind in stack_processes().items():
        with contextlib.suppress(psutil.Error):
            info = psutil.Process(pid).memory_full_info()
            taken.rss[kind] += info.rss / 2**20
            taken.pss[kind] += info.pss / 2**20
            taken.count[kind] += 1
    return taken


class PeakMemory:
    """The largest PSS and RSS per kind, and of the stack as a whole, sampled every second."""

    def __init__(self) -> None:
        self.pss: dict[str, float] = {}
        self.rss: dict[str, float] = {}
        self.stack_pss = 0.0
        self.stack_rss = 0.0

    async def run(self) -> None:
        while True:
            taken = await asyncio.to_thread(memory)
            for kind in taken.pss:
                self.pss[kind] = max(self.pss.get(kind, 0.0), taken.pss[kind])
                self.rss[kind] = max(self.rss.get(kind, 0.0), taken.rss[kind])
            self.stack_pss = max(self.stack_pss, sum(taken.pss[k] for k in STACK_KINDS))
            self.stack_rss = max(self.stack_rss, sum(taken.rss[k] for k in STACK_KINDS))
            await asyncio.sleep(1.0)


async def backends_by_kind(admin: asyncpg.Connection) -> dict[int, str]:
    """Postgres backend pid → the kind of process holding its connection (matched by the
    client's TCP port)."""
    owners: dict[int, int] = {}
    for connection in psutil.net_connections(kind="tcp"):
        if connection.laddr and connection.pid:
            owners[connection.laddr.port] = connection.pid
    kinds = stack_processes()
    rows = await admin.fetch(
        "SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL"
    )
    found = {}
    for row in rows:
        owner = owners.get(row["client_port"])
        found[row["pid"]] = kinds.get(owner, "this harness") if owner else "?"
    return found


class PySpy:
    """`py-spy record --format raw` on some processes until stopped; one file per process."""

    def __init__(self, out: Path, rate: int) -> None:
        self._out = out
        self._rate = rate
        self._running: dict[str, asyncio.subprocess.Process] = {}
        self.files: dict[str, Path] = {}

    async def start(self, label: str, targets: dict[str, int]) -> None:
        self._out.mkdir(parents=True, exist_ok=True)
        for name, pid in targets.items():
            path = self._out / f"{label}-{name}.txt"
            argv = [str(PY_SPY), "record", "--pid", str(pid), "--rate", str(self._rate)]
            # --gil: only the thread holding the GIL, i.e. Python actually running; without it
            # threads waiting for the GIL or a queue count as busy
            argv += ["--format", "raw", "--output", str(path), "--nonblocking", "--gil"]
            self._running[name] = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
            )
            self.files[f"{label}-{name}"] = path
        await asyncio.sleep(1.0)  # attached before the measured work starts

    async def stop(self) -> None:
        for process in self._running.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for process in self._running.values():
            await process.wait()
        self._running.clear()


def by_kind_total(values: dict[int, tuple[str, float]]) -> dict[str, float]:
    total: defaultdict[str, float] = defaultdict(float)
    for kind, seconds in values.values():
        total[kind] += seconds
    return dict(total)
