"""Heartbeats around slow awaits, so Temporal notices a dead worker in seconds, not minutes,
and so a cancelled task's in-flight call is interrupted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio import activity

T = TypeVar("T")


@dataclass
class HeartbeatDetails:
    """What the heartbeats around a whole activity carry: a step that wants its progress read
    back by a retry sets `current` while it runs."""

    current: Callable[[], Sequence[Any]] | None = None

    def __call__(self) -> Sequence[Any]:
        return self.current() if self.current is not None else ()


async def heartbeating(
    awaitable: Awaitable[T],
    every_seconds: float = 1.0,
    details: Callable[[], Sequence[Any]] | None = None,
) -> T:
    """`details` gives what each heartbeat carries; a retry reads the last ones back
    (`activity.info().heartbeat_details`)."""
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every_seconds)
            if done:
                return task.result()
            if not activity.info().is_local:  # a local activity has no heartbeats
                activity.heartbeat(*(details() if details is not None else ()))
    finally:
        if not task.done():
            task.cancel()
