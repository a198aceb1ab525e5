"""A job the gateway runs every so often for its lifetime (the task reconciler, the retention
job): one pass at a time; a pass that fails (Postgres or Temporal away) is logged and the next
one tries again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

logger = logging.getLogger(__name__)


class PeriodicJob(ABC):
    name: str  # in the logs
    done_message: str  # logged (with the count) after a pass that did something

    def __init__(self, interval_seconds: float) -> None:
        self._interval = interval_seconds
        self._loop: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_once(self) -> int:
        """One pass; how many things it changed."""

    def pause(self) -> float:
        """Seconds until the next pass."""
        return self._interval

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def _run(self) -> None:
        while True:
            try:
                done = await self.run_once()
                if done:
                    logger.warning(self.done_message, done)
            except Exception:
                logger.warning(
                    "%s: pass failed; the next one tries again", self.name, exc_info=True
                )
            await asyncio.sleep(self.pause())
