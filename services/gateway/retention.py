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
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.task_upkeep import TaskUpkeepRepository
from services.gateway.periodic import PeriodicJob

MAX_BATCHES_PER_PASS = 100
PAUSE_BETWEEN_BATCHES = 0.05  # seconds: room for other work on the database


class RetentionJob(PeriodicJob):
    name = "retention"
    done_message = "retention deleted %d finished task(s) and their records"

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        keep_for: timedelta,
        interval_seconds: float,
        batch_size: int,
    ) -> None:
        super().__init__(interval_seconds)
        self._sessions = session_factory
        self._keep_for = keep_for
        self._batch_size = batch_size

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
