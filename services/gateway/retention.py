"""Deletes what is older than `AGENTRY_RETENTION_DAYS`: finished tasks with their events,
messages, approvals, workspace files and sub-agent tasks.

A loop in the gateway's lifespan (only when the setting is given). Each batch is one short
transaction over the oldest finished top-level tasks, skipping rows another transaction holds,
so writers are never locked out and several gateway replicas share the work instead of
queueing on it. A pass stops after `MAX_BATCHES_PER_PASS` batches and the next goes on.
Temporal keeps closed workflow histories for its namespace's own retention period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.task_upkeep import TaskUpkeepRepository

logger = logging.getLogger(__name__)

MAX_BATCHES_PER_PASS = 100
PAUSE_BETWEEN_BATCHES = 0.05  # seconds: room for other work on the database


class RetentionJob:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        keep_for: timedelta,
        interval_seconds: float,
        batch_size: int,
    ) -> None:
        self._sessions = session_factory
        self._keep_for = keep_for
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._loop: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Delete in batches until nothing old is left (or the pass's batches are used up);
        how many top-level tasks were deleted."""
        cutoff = datetime.now(UTC) - self._keep_for
        total = 0
        for _ in range(MAX_BATCHES_PER_PASS):
            async with self._sessions.begin() as session:
                deleted = await TaskUpkeepRepository(session).delete_finished_before(
                    cutoff, self._batch_size
                )
            total += deleted
            if deleted < self._batch_size:
                break
            await asyncio.sleep(PAUSE_BETWEEN_BATCHES)
        return total

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def _run(self) -> None:
        while True:
            try:
                deleted = await self.run_once()
                if deleted:
                    logger.info("retention deleted %d finished task(s) and their records", deleted)
            except Exception:  # Postgres away: the next pass tries again
                logger.warning("retention pass failed", exc_info=True)
            await asyncio.sleep(self._interval)
