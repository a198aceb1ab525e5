"""How loaded each model server is, read from its Prometheus `/metrics`.

A worker process polls every configured server in the background (one task, shared by all its
pools) so a model call can decide at once whether to go ahead: the admission gate
(`activities/model_admission.py`) gets each new reading. SGLang (`--enable-metrics`) and
llama.cpp (`--metrics`) name their gauges differently; both are read here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import httpx

from activities.prometheus_text import Sample, parse_samples

logger = logging.getLogger(__name__)

# requests waiting for the server to take them up, requests being served, and the share of the
# KV cache in use (0..1); the first name found wins
QUEUED = ("sglang:num_queue_reqs", "llamacpp:requests_deferred")
RUNNING = ("sglang:num_running_reqs", "llamacpp:requests_processing")
KV_USAGE = ("sglang:token_usage", "llamacpp:kv_cache_usage_ratio")


@dataclass(frozen=True)
class ModelLoad:
    """One reading of one server. A figure the server does not report is None."""

    queued: float | None
    running: float | None
    kv_usage: float | None
    sampled_at: float  # time.monotonic() of the reading


def load_from_samples(samples: Iterable[Sample], sampled_at: float) -> ModelLoad | None:
    """Queues add up over the series (e.g. data-parallel ranks); the fullest cache counts.
    None when the text holds none of the gauges (not a model server's metrics)."""
    by_name: dict[str, list[float]] = {}
    for sample in samples:
        if sample.value == sample.value:  # NaN says nothing
            by_name.setdefault(sample.name, []).append(sample.value)

    def first(names: tuple[str, ...], combine: Callable[[list[float]], float]) -> float | None:
        for name in names:
            if values := by_name.get(name):
                return combine(values)
        return None

    queued, running = first(QUEUED, sum), first(RUNNING, sum)
    kv_usage = first(KV_USAGE, max)
    if queued is None and kv_usage is None:
        return None
    return ModelLoad(queued=queued, running=running, kv_usage=kv_usage, sampled_at=sampled_at)


LoadListener = Callable[[str, ModelLoad | None], None]
"""Called after every poll with the model alias and its reading; None when the poll failed."""


class ModelLoadMonitor:
    """Polls each model alias's metrics URL every `poll_seconds`; a URL shared by several aliases
    (one server serving two model groups) is fetched once per round."""

    def __init__(
        self,
        urls: Mapping[str, str],
        http: httpx.AsyncClient,
        listener: LoadListener,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._aliases_by_url: dict[str, list[str]] = {}
        for alias, url in urls.items():
            self._aliases_by_url.setdefault(url, []).append(alias)
        self._http = http
        self._listener = listener
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._failing: set[str] = set()  # URLs whose outage was already logged

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            started = self._clock()
            try:
                await self.poll_once()
            except Exception:  # a bug here must not stop admission control for good
                logger.exception("polling model metrics failed")
            await asyncio.sleep(max(0.0, self._poll_seconds - (self._clock() - started)))

    async def poll_once(self) -> None:
        urls = list(self._aliases_by_url)
        loads = await asyncio.gather(*(self._read(url) for url in urls))
        for url, load in zip(urls, loads, strict=True):
            for alias in self._aliases_by_url[url]:
                self._listener(alias, load)

    async def _read(self, url: str) -> ModelLoad | None:
        try:
            response = await self._http.get(url)
            response.raise_for_status()
            load = load_from_samples(parse_samples(response.text), self._clock())
            problem = None if load is not None else "no queue or KV-cache gauge in the metrics"
        except httpx.HTTPError as exc:
            load, problem = None, f"{type(exc).__name__}: {exc}"
        if problem is not None:
            if url not in self._failing:  # once per outage, not once per poll
                self._failing.add(url)
                logger.warning(
                    "model metrics at %s unreadable (%s): calls to %s are admitted without "
                    "regard to load until it is back",
                    url,
                    problem,
                    ", ".join(self._aliases_by_url[url]),
                )
            return None
        if url in self._failing:
            self._failing.discard(url)
            logger.info("model metrics at %s readable again", url)
        return load
