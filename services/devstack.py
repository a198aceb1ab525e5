"""The embedded stack behind `make run`: one supervisor for every process on loopback.

Order: Postgres, Temporal, the model servers and the LiteLLM proxy start together; then
migrations and the dev API key; then the workers and the gateway. Stopping goes in reverse.
Workers are a fleet per pool (services/worker_fleet.py), kept at each pool's desired replicas
and started again if they die (that is the durability story); any other child dying stops
the stack with its log tail.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from services.embedded_postgres import init_data_dir, postgres_child
from services.model_files import QWEN_CODER_05B, SMOLLM2_135M, ensure_model_file
from services.pools import PoolCatalog
from services.processes import Child, ChildSpec, wait_until
from services.settings import Settings
from services.temporal_client import connect_temporal
from services.worker_fleet import WorkerFleet

logger = logging.getLogger(__name__)

VENV_BIN = Path(sys.executable).parent

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
}
"""The embedded Temporal's dynamic config; the tests' and benchmarks' dev servers use it too."""


def temporal_dynamic_config_args() -> list[str]:
    return [
        arg
        for key, value in TEMPORAL_DYNAMIC_CONFIG.items()
        for arg in ("--dynamic-config-value", f"{key}={value}")
    ]


@dataclass
class StackInfo:
    gateway_url: str
    temporal_ui_url: str | None
    litellm_url: str
    api_key: str


class DevStack:
    def __init__(self, settings: Settings, extra_env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.children: dict[str, Child] = {}
        self.fleet: WorkerFleet | None = None  # the workers, per pool (after start)
        self._env = {**settings.as_env(), **(extra_env or {})}
        self._logs = settings.data_dir / "logs"

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> StackInfo:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # LiteLLM takes longest to import; it needs nothing else to start listening
            await asyncio.gather(
                self._start_postgres(),
                self._start_temporal(),
                self._start_models(),
                self._start_litellm(),
            )
            await asyncio.to_thread(self._migrate)
            api_key = await self._dev_key()
            await asyncio.gather(self._start_workers(), self._start_gateway())
        except BaseException:
            await self.stop()
            raise
        ui = f"http://127.0.0.1:{s.temporal_ui_port}" if s.embedded_temporal else None
        return StackInfo(f"http://{s.host}:{s.port}", ui, s.litellm_url, api_key)

    async def stop(self) -> None:
        """The gateway first (no new work), then the workers drain, then the rest."""
        if "gateway" in self.children:
            await self.children["gateway"].stop()
        if self.fleet is not None:
            await self.fleet.stop()
        for name in reversed(list(self.children)):
            await self.children[name].stop()

    async def supervise(self) -> None:
        """Return (raising) when a child dies; the fleet restarts workers itself."""
        while True:
            await asyncio.sleep(0.5)
            for name, child in self.children.items():
                if not child.running():
                    raise RuntimeError(f"{name} exited unexpectedly:\n{child.log_tail()}")

    async def _spawn(self, spec: ChildSpec) -> Child:
        child = Child(spec)
        self.children[spec.name] = child
        await child.start()
        return child

    def _spec(self, name: str, argv: list[str], stop_timeout: float = 15.0) -> ChildSpec:
        return ChildSpec(
            name=name,
            argv=argv,
            log_file=self._logs / f"{name}.log",
            env=self._env,
            stop_timeout=stop_timeout,
        )

    # --- components --------------------------------------------------------------------

    async def _start_postgres(self) -> None:
        s = self.settings
        if s.database_url:
            return
        data = s.data_dir / "postgres"
        await asyncio.to_thread(init_data_dir, data)
        child = await self._spawn(
            postgres_child(data, s.embedded_postgres_port, self._logs / "postgres.log")
        )

        async def ready() -> bool:
            conn = await asyncpg.connect(
                host="127.0.0.1",
                port=s.embedded_postgres_port,
                user="postgres",
                database="postgres",
                timeout=2,
            )
            try:
                exists = await conn.fetchval("select 1 from pg_database where datname='agentry'")
                if not exists:
                    await conn.execute("create database agentry")
            finally:
                await conn.close()
            return True

        await wait_until(ready, "postgres", 60, child)

    async def _start_temporal(self) -> None:
        s = self.settings
        if not s.embedded_temporal:
            return
        host, _, port = s.temporal_address.rpartition(":")
        db = s.data_dir / "temporal" / "temporal.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        child = await self._spawn(
            self._spec(
                "temporal",
                [
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
                    str(s.temporal_ui_port),
                    "--db-filename",
                    str(db),
                    "--namespace",
                    s.temporal_namespace,
                    "--sqlite-pragma",
                    "journal_mode=wal",
                    "--sqlite-pragma",
                    "synchronous=NORMAL",
                    *temporal_dynamic_config_args(),
                    "--log-level",
                    "warn",
                ],
            )
        )

        async def ready() -> bool:
            await connect_temporal(s)
            return True

        await wait_until(ready, "temporal", 60, child)

    async def _start_models(self) -> None:
        s = self.settings
        if not s.embedded_models:
            return
        models = [
            (s.default_model, QWEN_CODER_05B, s.default_model_port),
            (s.small_model, SMOLLM2_135M, s.small_model_port),
        ]
        waits = []
        for alias, model, port in models:
            path = await asyncio.to_thread(ensure_model_file, model, s.packages_dir, s.models_dir)
            child = await self._spawn(
                self._spec(
                    f"model-{alias}",
                    [
                        sys.executable,
                        "-m",
                        "services.model_server",
                        "--model",
                        str(path),
                        "--alias",
                        alias,
                        "--port",
                        str(port),
                        "--threads",
                        str(s.model_threads),
                        "--context",
                        str(s.model_context),
                    ],
                )
            )
            waits.append(
                wait_until(
                    _http_ok(f"http://127.0.0.1:{port}/health"), f"model server {alias}", 120, child
                )
            )
        await asyncio.gather(*waits)

    async def _start_litellm(self) -> None:
        s = self.settings
        if not s.embedded_litellm:
            return
        port = httpx.URL(s.litellm_url).port or 4000
        env = {
            **self._env,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # never fetch the price map at start
            "LITELLM_MASTER_KEY": s.litellm_key.get_secret_value(),
            "AGENTRY_DEFAULT_MODEL_API_BASE": f"http://127.0.0.1:{s.default_model_port}/v1",
            "AGENTRY_SMALL_MODEL_API_BASE": f"http://127.0.0.1:{s.small_model_port}/v1",
            "AGENTRY_MODEL_SERVER_KEY": "none",
            "DISABLE_SCHEMA_UPDATE": "True",
        }
        child = await self._spawn(
            ChildSpec(
                name="litellm",
                argv=[
                    str(VENV_BIN / "litellm"),
                    "--config",
                    str(s.litellm_config),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                log_file=self._logs / "litellm.log",
                env=env,
            )
        )
        await wait_until(_http_ok(f"{s.litellm_url}/health/liveliness"), "litellm", 120, child)

    def _migrate(self) -> None:
        from services.migrations import upgrade_database

        upgrade_database(self.settings.resolved_database_url)

    async def _dev_key(self) -> str:
        from services.dev_key import ensure_dev_key

        return await ensure_dev_key(self.settings)

    async def _start_workers(self) -> None:
        """Each pool's desired worker processes; the fleet keeps them at that number."""
        s = self.settings
        self.fleet = WorkerFleet(
            s, PoolCatalog.load(s.pools_file), await connect_temporal(s), self._worker_spec
        )
        await self.fleet.start()

    def _worker_spec(self, name: str, argv: list[str], stop_timeout: float) -> ChildSpec:
        return self._spec(name, argv, stop_timeout=stop_timeout)

    async def _start_gateway(self) -> None:
        s = self.settings
        child = await self._spawn(
            self._spec(
                "gateway", [sys.executable, "-m", "services.cli", "gateway"], stop_timeout=15
            )
        )
        await wait_until(_http_ok(f"http://{s.host}:{s.port}/readyz"), "gateway", 60, child)


def _http_ok(url: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(url)).status_code == 200

    return check
