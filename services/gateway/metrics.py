"""What the gateway shows on /metrics: its HTTP requests, what is in flight across the
platform (tasks not yet final, approvals waiting for a person and the oldest one's age), read
from Postgres when scraped, and its Temporal client's metrics (services/temporal_metrics.py).

The Postgres figures are read at most every `metrics_cache_seconds` however many scrapers ask,
by one query at a time and within `READ_TIMEOUT_SECONDS`. While Postgres does not answer they
are left out (absent, not zero, so no panel shows a false calm) and
`agentry_metrics_database_up` is 0; the page itself is still served. No label names a tenant.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.live_counts import LiveCountRepository, LiveCounts
from services.temporal_metrics import TemporalSdkMetrics
from workflows.contracts.tasks import TaskStatus

disable_created_metrics()  # type: ignore[no-untyped-call]

logger = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 2.0
LIVE_STATUSES = tuple(status.value for status in TaskStatus if not status.is_final)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class LiveGauges(Collector):
    """Tasks and approvals in flight, from the last reading of Postgres.

    The agents it is told of (the agent catalog's) get a 0 for every status they have no task
    in, so a series falls to 0 instead of vanishing."""

    def __init__(self, cache_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._agents: tuple[str, ...] = ()
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._counts: LiveCounts | None = None
        self._read_at: float | None = None
        self._database_up = False

    def attach(self, sessions: async_sessionmaker[AsyncSession], agents: Iterable[str]) -> None:
        """The database to read (opened by the app's lifespan) and the agents to show."""
        self._sessions, self._agents = sessions, tuple(agents)

    async def refresh(self) -> None:
        """Read Postgres again unless the last reading is recent enough."""
        async with self._lock:
            if self._read_at is not None and self._clock() - self._read_at < self._cache_seconds:
                return
            try:
                counts = await asyncio.wait_for(self._read(), READ_TIMEOUT_SECONDS)
            except Exception as exc:
                if self._database_up or self._read_at is None:  # once per outage
                    logger.warning("metrics: Postgres unreadable (%s)", type(exc).__name__)
                self._counts, self._database_up = None, False
            else:
                self._counts, self._database_up = counts, True
            self._read_at = self._clock()

    async def _read(self) -> LiveCounts:
        if self._sessions is None:
            raise RuntimeError("no database configured")
        async with self._sessions() as session:
            return await LiveCountRepository(session).read()

    def describe(self) -> Iterable[Metric]:
        return list(_families().values())

    def collect(self) -> Iterator[Metric]:
        families = _families()
        families["up"].add_metric([], 1.0 if self._database_up else 0.0)
        yield families["up"]
        counts = self._counts
        if counts is None:
            return
        agents = set(self._agents) | {agent for agent, _ in counts.tasks} | set(counts.approvals)
        for agent in sorted(agents):
            for status in LIVE_STATUSES:
                families["tasks"].add_metric([agent, status], counts.tasks.get((agent, status), 0))
            waiting = counts.approvals.get(agent)
            families["approvals"].add_metric([agent], waiting.count if waiting else 0)
            families["age"].add_metric([agent], waiting.oldest_age_seconds if waiting else 0.0)
        yield from (families["tasks"], families["approvals"], families["age"])


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        "up": GaugeMetricFamily(
            "agentry_metrics_database_up",
            "1 when the figures read from Postgres are current, 0 while it cannot be read.",
        ),
        "tasks": GaugeMetricFamily(
            "agentry_live_tasks",
            "Tasks not yet final (queued, running, waiting_approval, waiting_input), all "
            "tenants together.",
            labels=["agent", "status"],
        ),
        "approvals": GaugeMetricFamily(
            "agentry_approvals_waiting",
            "Tool calls waiting for a person's decision (pending or escalated).",
            labels=["agent"],
        ),
        "age": GaugeMetricFamily(
            "agentry_approval_oldest_wait_seconds",
            "How long the oldest waiting approval has waited (0: none waits).",
            labels=["agent"],
        ),
    }


class GatewayMetrics:
    """The gateway's registry; `sdk`, once the lifespan connects to Temporal, the Temporal
    SDK's client metrics, served after the registry's."""

    def __init__(self, live: LiveGauges) -> None:
        self.registry = registry = CollectorRegistry()
        self.live = live
        self.sdk: TemporalSdkMetrics | None = None
        registry.register(live)
        self.requests = Counter(
            "agentry_http_requests",
            "Requests answered, by route template (request_guard: refused before routing; "
            "unmatched: no such route) and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "agentry_http_request_duration_seconds",
            "Time to answer a request, by route template (a stream lasts as long as it is open).",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )

    async def page(self) -> bytes:
        """The whole /metrics page: Postgres figures refreshed if due, then the SDK's."""
        await self.live.refresh()
        own = generate_latest(self.registry)
        sdk = await asyncio.to_thread(self.sdk.read) if self.sdk is not None else b""
        return own + sdk
