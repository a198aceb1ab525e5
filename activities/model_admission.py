"""Admission by model capacity: when a model server is saturated, hold the model calls of
lower-priority tasks instead of piling more requests on it.

One gate per worker process, shared by its pools, fed by `ModelLoadMonitor` readings. Per model
alias with a metrics URL:

* no reading, or one older than `stale_after_seconds`: every call goes through (fail open; a
  metrics outage must not stop the agents);
* calls of priority <= `bypass_priority` always go through;
* the others go through while the reading shows headroom: `queue_limit - queued` calls per
  reading, none while the server is saturated (queued >= `queue_limit` or KV-cache usage >=
  `kv_usage_limit`). The calls beyond that wait, highest priority first, then in arrival order,
  and are released as new readings show headroom again.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from activities.model_load import ModelLoad


@dataclass(frozen=True)
class AdmissionLimits:
    queue_limit: int = 8
    kv_usage_limit: float = 0.9
    bypass_priority: int = 1
    max_hold_seconds: float = 60.0
    stale_after_seconds: float = 5.0


@dataclass(frozen=True)
class HoldReason:
    """Why a call waited: the reading at the time, and which limit it hit."""

    cause: str  # "queue" or "kv_cache": saturated; "headroom": room for fewer calls than want in
    queued: float | None
    kv_usage: float | None
    queue_limit: int
    kv_usage_limit: float

    def as_data(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "queued": self.queued,
            "kv_usage": self.kv_usage,
            "queue_limit": self.queue_limit,
            "kv_usage_limit": self.kv_usage_limit,
        }


@dataclass(frozen=True)
class Admission:
    held_seconds: float = 0.0
    timed_out: bool = False  # waited the longest allowed without being let through
    reason: HoldReason | None = None  # None: went straight through


NOT_HELD = Admission()


@dataclass(order=True)
class _Waiter:
    priority: int
    arrival: int
    future: asyncio.Future[None] = field(compare=False)


@dataclass
class _ModelState:
    load: ModelLoad | None = None
    admitted: int = 0  # calls let through since `load` was read, not yet visible in it
    waiters: list[_Waiter] = field(default_factory=list)  # a heap


class AdmissionGate:
    def __init__(
        self,
        models: Iterable[str],
        limits: AdmissionLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`models`: the aliases whose load is watched; calls to any other go straight through."""
        self.limits = limits
        self._models = {model: _ModelState() for model in models}
        self._clock = clock
        self._arrivals = itertools.count()

    def observe(self, model: str, load: ModelLoad | None) -> None:
        """A poll's result (None: the poll failed; the last reading stands until it is stale)."""
        state = self._models.get(model)
        if state is None:
            return
        if load is not None and (state.load is None or load.sampled_at != state.load.sampled_at):
            state.load, state.admitted = load, 0
        self._release(state)

    def reason(self, model: str) -> HoldReason | None:
        """The current reading's figures, for a call that is being held; None without one."""
        state = self._models.get(model)
        return None if state is None or state.load is None else self._reason(state.load)

    def waiting(self, model: str) -> int:
        state = self._models.get(model)
        return 0 if state is None else len(state.waiters)

    async def admit(self, model: str, priority: int, max_wait: float | None = None) -> Admission:
        """Return when the call may go to the model server, or after `max_wait` seconds
        (default `limits.max_hold_seconds`) with `timed_out` set."""
        state = self._models.get(model)
        if state is None:
            return NOT_HELD
        self._release(state)
        room = self._room(state)
        if room is None:
            return NOT_HELD
        if priority <= self.limits.bypass_priority or room > 0:
            state.admitted += 1  # the waiters, if any, were released first: room is left over
            return NOT_HELD
        assert state.load is not None  # else room would be None
        reason = self._reason(state.load)
        waiter = _Waiter(priority, next(self._arrivals), asyncio.get_running_loop().create_future())
        heapq.heappush(state.waiters, waiter)
        started = self._clock()
        wait = self.limits.max_hold_seconds if max_wait is None else max_wait
        try:
            await asyncio.wait({waiter.future}, timeout=max(0.0, wait))
        finally:
            released = waiter.future.done()
            if not released:  # timed out or cancelled: leave the line
                waiter.future.cancel()
                state.waiters.remove(waiter)
                heapq.heapify(state.waiters)
        return Admission(self._clock() - started, not released, reason)

    def _room(self, state: _ModelState) -> int | None:
        """How many more calls may go now; None when there is no usable reading."""
        load = state.load
        if load is None or self._clock() - load.sampled_at > self.limits.stale_after_seconds:
            return None
        if self._saturation(load) is not None:
            return 0
        headroom = math.floor(self.limits.queue_limit - (load.queued or 0.0))
        return max(0, headroom - state.admitted)

    def _release(self, state: _ModelState) -> None:
        """Let waiters through, highest priority first, as far as the room allows."""
        room = self._room(state)
        while state.waiters and (room is None or room > 0):
            waiter = heapq.heappop(state.waiters)
            if waiter.future.done():
                continue
            waiter.future.set_result(None)
            if room is not None:
                state.admitted += 1
                room -= 1

    def _saturation(self, load: ModelLoad) -> str | None:
        if load.queued is not None and load.queued >= self.limits.queue_limit:
            return "queue"
        if load.kv_usage is not None and load.kv_usage >= self.limits.kv_usage_limit:
            return "kv_cache"
        return None

    def _reason(self, load: ModelLoad) -> HoldReason:
        return HoldReason(
            cause=self._saturation(load) or "headroom",
            queued=load.queued,
            kv_usage=load.kv_usage,
            queue_limit=self.limits.queue_limit,
            kv_usage_limit=self.limits.kv_usage_limit,
        )
