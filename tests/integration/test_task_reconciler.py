"""A task whose workflow ended without recording it (terminated here) is finalised by the
reconciler with what happened to its workflow; a task whose workflow still runs is left be."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from activities.db.engine import create_engine, create_session_factory
from services.gateway.task_reconciler import TaskReconciler
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import events, submit, wait_for_status
from tests.integration.test_approvals_flow import AGENT
from tests.stack import RunningStack


async def held_task(stack: RunningStack, api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    marker = await stack.scripted.script(
        unique_key(name),
        [
            reply_tool_calls([("write_file", {"path": "out/x.txt", "content": "x"})]),
            reply_text("done"),
        ],
    )
    task = await submit(api, AGENT, f"write {marker}")
    await wait_for_status(api, task["id"], {"waiting_approval"})
    return task


async def test_a_terminated_workflows_task_is_finalised_and_a_live_one_left_be(
    stack: RunningStack,
) -> None:
    client = await connect_temporal(stack.settings)
    engine = create_engine(stack.settings.resolved_database_url, pool_size=2)
    reconciler = TaskReconciler(
        create_session_factory(engine), client, quiet_for=timedelta(0), interval_seconds=1
    )
    try:
        async with stack.api() as api:
            stuck = await held_task(stack, api, "stuck")
            live = await held_task(stack, api, "live")
            await client.get_workflow_handle(f"task-{stuck['id']}").terminate("operator test")
            assert (await api.get(f"/v1/tasks/{stuck['id']}")).json()["status"] == (
                "waiting_approval"
            )  # the row does not know

            assert await reconciler.run_once(limit=10_000) >= 1
            assert await reconciler.run_once(limit=10_000) == 0  # once is enough

            finalised = (await api.get(f"/v1/tasks/{stuck['id']}")).json()
            untouched = (await api.get(f"/v1/tasks/{live['id']}")).json()
            log = await events(api, stuck["id"])
    finally:
        await engine.dispose()

    assert finalised["status"] == "failed"
    assert finalised["error"] == {
        "code": "workflow_closed",
        "message": "the task's workflow was terminated by an operator",
    }
    assert log[-1]["data"]["details"] == {"reconciled": True, "workflow": "terminated"}
    assert untouched["status"] == "waiting_approval"
