"""The embedded stack behind `make run`: one supervisor for every process on loopback.

Order: Postgres, Temporal, the model servers and the LiteLLM proxy start together; then
migrations and the dev API key; then the workers and the gateway. Stopping goes in reverse.
Workers are a fleet per pool (worker_fleet.py), kept at each pool's desired replicas and
started again if they die (that is the durability story); any other child dying stops the
stack with its log tail.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from activities.db.migrations import upgrade_database
from services.devstack.dev_key import ensure_dev_key
from services.devstack.large_model import with_large_model
from services.devstack.litellm import litellm_argv, litellm_env
from services.devstack.model_files import ensure_model_file
from services.devstack.model_servers import embedded_models, model_server_argv
from services.devstack.postgres import init_data_dir, postgres_child, postgres_ready
from services.devstack.processes import Child, ChildSpec, wait_until
from services.devstack.temporal import temporal_argv, temporal_db
from services.devstack.worker_fleet import WorkerFleet
from services.pools.catalog import PoolCatalog
from services.settings import Settings
from services.temporal_client import connect_temporal

logger = logging.getLogger(__name__)


@dataclass
class StackInfo:
    gateway_url: str
    temporal_ui_url: str | None
    litellm_url: str
    api_key: str
    first_worker_metrics_url: str | None = None  # the next workers' ports follow it


class DevStack:
    def __init__(self, settings: Settings, extra_env: dict[str, str] | None = None) -> None:
        settings = with_large_model(settings)  # its children all read the same model groups
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
            await asyncio.to_thread(upgrade_database, s.resolved_database_url)
            api_key = await ensure_dev_key(s)
            await asyncio.gather(self._start_workers(), self._start_gateway())
        except BaseException:
            await self.stop()
            raise
        ui = f"http://127.0.0.1:{s.temporal_ui_port}" if s.embedded_temporal else None
        port = s.worker_metrics_port
        workers = f"http://{s.worker_metrics_host}:{port}/metrics" if port else None
        return StackInfo(f"http://{s.host}:{s.port}", ui, s.litellm_url, api_key, workers)

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

    def _spec(
        self,
        name: str,
        argv: list[str],
        stop_timeout: float = 15.0,
        env: dict[str, str] | None = None,
    ) -> ChildSpec:
        return ChildSpec(
            name=name,
            argv=argv,
            log_file=self._logs / f"{name}.log",
            env={**self._env, **(env or {})},
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
        await wait_until(lambda: postgres_ready(s.embedded_postgres_port), "postgres", 60, child)

    async def _start_temporal(self) -> None:
        s = self.settings
        if not s.embedded_temporal:
            return
        temporal_db(s).parent.mkdir(parents=True, exist_ok=True)
        child = await self._spawn(self._spec("temporal", temporal_argv(s)))

        async def ready() -> bool:
            await connect_temporal(s)
            return True

        await wait_until(ready, "temporal", 60, child)

    async def _start_models(self) -> None:
        s = self.settings
        if not s.embedded_models:
            return
        waits = []
        for model in embedded_models(s):
            path = await asyncio.to_thread(
                ensure_model_file, model.file, s.packages_dir, s.models_dir
            )
            argv = model_server_argv(s, model, path)
            child = await self._spawn(self._spec(f"model-{model.alias}", argv))
            health = _http_ok(f"http://127.0.0.1:{model.port}/health")
            waits.append(wait_until(health, f"model server {model.alias}", 120, child))
        await asyncio.gather(*waits)

    async def _start_litellm(self) -> None:
        s = self.settings
        if not s.embedded_litellm:
            return
        child = await self._spawn(self._spec("litellm", litellm_argv(s), env=litellm_env(s)))
        await wait_until(_http_ok(f"{s.litellm_url}/health/liveliness"), "litellm", 120, child)

    async def _start_workers(self) -> None:
        """Each pool's desired worker processes; the fleet keeps them at that number."""
        s = self.settings
        pools = PoolCatalog.load(s.pools_file)
        self.fleet = WorkerFleet(s, pools, await connect_temporal(s), self._spec)
        await self.fleet.start()

    async def _start_gateway(self) -> None:
        s = self.settings
        argv = [sys.executable, "-m", "services.cli", "gateway"]
        child = await self._spawn(self._spec("gateway", argv, stop_timeout=15))
        await wait_until(_http_ok(f"http://{s.host}:{s.port}/readyz"), "gateway", 60, child)


def _http_ok(url: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(url)).status_code == 200

    return check
