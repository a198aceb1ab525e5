"""Decisions for parked tasks (`python -m bench parked --decide K`): how long after the decision
POST the decided tool call starts, for the K tasks parked first (by then out of the worker's
sticky cache, and out of Temporal's cache of mutable state when more tasks than it holds were
parked after them) and the K parked last (in both caches). One decision at a time; the latency
is run_tool's ActivityTaskStarted `event_time` − the wall clock just before the POST, read
from the history once the tool call has completed (the task then parks again: the scripted
model asks for the same call)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import asyncpg
import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench import Summary, activity_names, event_ms
from services.settings import Settings
from services.temporal_client import connect_temporal
from tests.stack import RunningStack
from workflows.contracts.tasks import workflow_id_for_task

TOOL_ACTIVITY = "run_tool"
TIMEOUT = 60.0
POLL_SECONDS = 0.25
SETTLE_SECONDS = 1.0  # after the POST's answer, before the harness asks Temporal anything
PENDING = """
SELECT a.id::text AS approval, t.id::text AS task, n.name AS tenant
FROM approvals a JOIN tasks t ON t.id = a.task_id JOIN tenants n ON n.id = t.tenant_id
WHERE a.status = 'pending' AND t.status = 'waiting_approval'
ORDER BY t.created_at {order} LIMIT $1
"""


async def connect_database(settings: Settings) -> asyncpg.Connection:
    """The embedded Postgres's service database, as its superuser."""
    return await asyncpg.connect(
        host="127.0.0.1", port=settings.embedded_postgres_port, user="postgres", database="agentry"
    )


async def decide(running: RunningStack, count: int) -> list[str]:
    """Time approving the `count` tasks parked first and the `count` parked last; the
    report's lines."""
    connection = await connect_database(running.settings)
    try:
        oldest = await pending(connection, count, True)
        newest = await pending(connection, count, False)
    finally:
        await connection.close()
    client = await connect_temporal(running.settings)
    last = await decide_all(running, client, newest)
    return decision_lines(await decide_all(running, client, oldest), last)


async def pending(connection: asyncpg.Connection, count: int, oldest: bool) -> list[asyncpg.Record]:
    return list(await connection.fetch(PENDING.format(order="ASC" if oldest else "DESC"), count))


async def decide_all(
    running: RunningStack, client: Client, rows: Sequence[asyncpg.Record]
) -> Summary:
    """Approve each row's approval, one at a time; the latencies in ms."""
    keys: dict[str, str] = {}
    latencies = []
    for row in rows:
        if row["tenant"] not in keys:
            keys[row["tenant"]] = await running.create_key(
                "approver", "parked", tenant=row["tenant"]
            )
        async with running.api(keys[row["tenant"]]) as api:
            latencies.append(await decide_one(api, client, row["approval"], row["task"]))
    return Summary.of(latencies)


async def decide_one(api: httpx.AsyncClient, client: Client, approval: str, task: str) -> float:
    sent_at = time.time()
    answer = await api.post(f"/v1/approvals/{approval}/decision", json={"decision": "approve"})
    if answer.status_code not in (200, 202):
        raise RuntimeError(f"decision: {answer.status_code} {answer.text[:300]}")
    await asyncio.sleep(SETTLE_SECONDS)
    handle = client.get_workflow_handle(workflow_id_for_task(task))
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        events = list((await handle.fetch_history()).events)
        names = activity_names(events)
        completed = {
            e.activity_task_completed_event_attributes.scheduled_event_id
            for e in events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        }
        for event in events:
            scheduled = event.activity_task_started_event_attributes.scheduled_event_id
            if (
                event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
                and names[scheduled] == TOOL_ACTIVITY
                and scheduled in completed
            ):
                return event_ms(event, sent_at)
        await asyncio.sleep(POLL_SECONDS)
    raise RuntimeError(f"task {task}: no {TOOL_ACTIVITY} within {TIMEOUT:.0f} s of the decision")


def decision_lines(oldest: Summary, newest: Summary) -> list[str]:
    return [
        "",
        "Approval decision POST → the decided tool call starts (ms), one decision at a time "
        "after the second snapshot, for the tasks parked first and last:",
        "",
        "| tasks | n | p50 | p90 | max |",
        "|---|---:|---:|---:|---:|",
        f"| parked first | {oldest.n} | {oldest.p50:.1f} | {oldest.p90:.1f} | {oldest.max:.1f} |",
        f"| parked last | {newest.n} | {newest.p50:.1f} | {newest.p90:.1f} | {newest.max:.1f} |",
    ]
