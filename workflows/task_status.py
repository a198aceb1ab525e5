"""Non-final status changes of a task, shared by the workflow's parts."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.lifecycle import LifecycleActivities
    from workflows.bookkeeping import store_step
    from workflows.contracts.lifecycle import SetStatusRequest
    from workflows.contracts.tasks import TaskStatus


async def set_status(task_id: str, status: TaskStatus, output: str | None = None) -> None:
    """Record running ⇄ waiting_approval ⇄ waiting_input, with a step key unique to this
    change so a retried activity logs it once."""
    await store_step(
        LifecycleActivities.set_status,
        SetStatusRequest(
            task_id=task_id, status=status, output=output, step_key=f"status:{workflow.uuid4()}"
        ),
    )
