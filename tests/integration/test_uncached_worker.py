"""A worker without a workflow cache (`worker_max_cached_workflows=0`, every step replays its
history) still finishes a backlog: each workflow task keeps its workflow until its local
activities are done, instead of being evicted for the next task and re-running them forever."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from services.settings import Settings
from tests.integration.scheduling_helpers import (
    HeldModel,
    Sessions,
    scheduling_gateway,
    submitted,
    task_rows,
    until,
)


async def test_a_worker_without_a_cache_finishes_a_backlog(
    tmp_path: Path, gateway_settings: Settings, db_sessions: Sessions, temporal_client: Client
) -> None:
    async with scheduling_gateway(tmp_path, gateway_settings, db_sessions, temporal_client) as gw:
        async with await gw.api() as api:
            backlog = [await submitted(api) for _ in range(8)]
            async with gw.worker(HeldModel(hold=False), max_cached_workflows=0):

                async def all_succeeded() -> bool:
                    rows = await task_rows(db_sessions, backlog)
                    return all(row.status == "succeeded" for row in rows)

                # a livelocked workflow retries its task every 10 s and never gets there
                await until(all_succeeded, "every task of the backlog succeeded", timeout=30)
