"""The embedded stack's worker processes: per pool, as many as its desired replicas.

A loop reads the desired counts (services/pools/scaling.py) every second, starts the missing
workers (`agentry worker --pool NAME`) and drains the surplus ones: SIGTERM, upon which a worker
stops polling and finishes its in-flight activities within `worker_drain_seconds`, then exits.
A worker that dies on its own is started again: that is the durability story.

Each worker serves /metrics on a port of its own: `worker_metrics_port` + the lowest offset no
other worker of the fleet (draining ones included) holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections.abc import Callable

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.client import Client

from activities.db.engine import create_engine, create_session_factory
from activities.db.outages import database_unreachable
from services.devstack.processes import Child, ChildSpec, wait_until
from services.pools.catalog import PoolCatalog, PoolSpec
from services.pools.scaling import all_desired
from services.pools.status import describe_task_queue
from services.settings import Settings

logger = logging.getLogger(__name__)

RECONCILE_SECONDS = 1.0
STARTUP_TIMEOUT = 60.0

SpecFactory = Callable[[str, list[str], float], ChildSpec]
"""(child name, argv, stop timeout) → the child's spec (log file, environment)."""


class WorkerFleet:
    def __init__(
        self, settings: Settings, pools: PoolCatalog, client: Client, make_spec: SpecFactory
    ) -> None:
        self._settings = settings
        self._pools = pools
        self._client = client
        self._make_spec = make_spec
        self._engine = create_engine(settings.resolved_database_url, pool_size=1)
        self._sessions = create_session_factory(self._engine)
        self._workers: dict[str, list[Child]] = {pool.name: [] for pool in pools}
        self._draining: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._database_away = False
        self._metrics_ports: dict[Child, int] = {}

    def workers(self, pool: str) -> list[Child]:
        """The pool's serving worker processes (not those draining), oldest first."""
        return list(self._workers[pool])

    def metrics_ports(self) -> dict[str, int]:
        """Serving worker name → the port of its /metrics (none when metrics are off)."""
        return {
            child.spec.name: self._metrics_ports[child]
            for workers in self._workers.values()
            for child in workers
            if child in self._metrics_ports
        }

    async def start(self) -> None:
        """Start every pool's desired workers, wait until each such pool has a poller, then
        keep reconciling in the background."""
        desired = await self._desired()
        await self.reconcile(desired)
        for pool in self._pools:
            if desired[pool.name] > 0:
                await wait_until(
                    functools.partial(self._polled, pool),
                    f"worker for pool {pool.name}",
                    STARTUP_TIMEOUT,
                    self._workers[pool.name][0],
                )
        self._loop = asyncio.create_task(self._reconcile_forever(), name="worker-fleet")

    async def stop(self) -> None:
        """Stop reconciling, then drain every worker at once."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        for pool in self._pools:
            await self.reconcile({pool.name: 0}, restart_dead=False)
        if self._draining:
            await asyncio.gather(*self._draining, return_exceptions=True)
        await self._engine.dispose()

    async def reconcile(self, desired: dict[str, int], restart_dead: bool = True) -> None:
        """Bring the pools named in `desired` to those counts."""
        for name, count in desired.items():
            workers = self._workers[name]
            if restart_dead:
                for child in workers:
                    if not child.running():
                        child.restarts += 1
                        logger.warning(
                            "%s exited; starting it again (restart %d)",
                            child.spec.name,
                            child.restarts,
                        )
                        await child.start()
            while len(workers) < count:
                port = self._free_metrics_port()
                child = Child(self._worker_spec(name, workers, port))
                if port:
                    self._metrics_ports[child] = port
                workers.append(child)
                await child.start()
            while len(workers) > count:
                child = workers.pop()
                logger.info("draining %s", child.spec.name)
                task = asyncio.create_task(self._drain(child), name=f"drain-{child.spec.name}")
                self._draining.add(task)
                task.add_done_callback(self._draining.discard)

    async def _drain(self, child: Child) -> None:
        try:
            await child.stop()
        finally:
            self._metrics_ports.pop(child, None)

    def _free_metrics_port(self) -> int:
        """0 when workers serve no metrics."""
        base = self._settings.worker_metrics_port
        if not base:
            return 0
        taken = set(self._metrics_ports.values())
        return next(port for port in range(base, base + len(taken) + 1) if port not in taken)

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_SECONDS)
            try:
                await self.reconcile(await self._desired())
            except Exception as exc:
                if not database_unreachable(exc):
                    logger.exception("reconciling the worker fleet failed; retrying")
                elif not self._database_away:  # once per outage, not a traceback a second
                    logger.warning("the worker fleet waits for the database to answer again")
                self._database_away = database_unreachable(exc)
            else:
                self._database_away = False

    async def _desired(self) -> dict[str, int]:
        async with self._sessions() as session:
            wanted = await all_desired(session, self._pools)
        return {name: replicas.desired for name, replicas in wanted.items()}

    def _worker_spec(self, pool: str, workers: list[Child], metrics_port: int) -> ChildSpec:
        taken = {child.spec.name for child in workers}
        slot = next(i for i in range(1, len(workers) + 2) if f"worker-{pool}-{i}" not in taken)
        argv = [sys.executable, "-m", "services.cli", "worker", "--pool", pool]
        argv += ["--metrics-port", str(metrics_port)]
        # a stopping worker drains its in-flight activities first; give it that long and more
        return self._make_spec(
            f"worker-{pool}-{slot}", argv, self._settings.worker_drain_seconds + 15
        )

    async def _polled(self, pool: PoolSpec) -> bool:
        kind = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
        return bool((await describe_task_queue(self._client, pool.task_queue, kind)).pollers)
