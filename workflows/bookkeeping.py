"""Bookkeeping steps: the workflow's quick Postgres writes (a task begins, changes status,
finishes; approvals open and close; sub-agents open and close), shared by its parts.

They run as local activities, inside the workflow task that decided them: no activity task
to dispatch and no workflow task to wake the workflow afterwards, which was most of what a
bookkeeping write cost (issue 13, docs/PROFILE.md). Each write is keyed by its step, so a
re-run after a crash (a local activity's result is kept only once its workflow task
completes) writes nothing twice. A step that keeps failing (an outage) goes on as a regular
activity, so outages are waited out exactly as before. A history recorded before this
change replays with every step a regular activity. `local_first` serves the quick tools too
(workflows/tool_call_round.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from workflows import policies

LOCAL_BOOKKEEPING_PATCH = "local-bookkeeping"

RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")
StepMethod = Callable[[Any, RequestT], Awaitable[ResultT]]  # an activity method, unbound


async def store_step(method: StepMethod[RequestT, ResultT], request: RequestT) -> ResultT:
    """Run one bookkeeping activity method: a few quick local attempts, then (the database
    is away, say) as a regular activity retried until it answers, within
    policies.DATABASE_OUTAGE_LIMIT, on server-side timers like any other step."""
    if workflow.patched(LOCAL_BOOKKEEPING_PATCH):
        return await local_first(
            method,
            request,
            policies.LOCAL_STORE_TIMEOUT,
            policies.LOCAL_STORE_LIMIT,
            policies.LOCAL_STORE_RETRY,
            policies.STORE_STEP,
        )
    return await workflow.execute_activity_method(method, request, **policies.STORE_STEP)


async def local_first(
    method: StepMethod[RequestT, ResultT],
    request: RequestT,
    timeout: timedelta,
    limit: timedelta,
    retry: RetryPolicy,
    regular: Mapping[str, Any],
) -> ResultT:
    """`method` as a local activity (each attempt within `timeout`, all within `limit`);
    once they failed, as a regular activity with the `regular` options (policies.py).
    Whatever failed (a timeout, an error, an outage) the regular activity's retries and limits
    then decide, as if the local attempts had not been made; a cancel is not retried."""
    try:
        return await workflow.execute_local_activity_method(
            method,
            request,
            start_to_close_timeout=timeout,
            schedule_to_close_timeout=limit,
            retry_policy=retry,
        )
    except FailureError as exc:  # a local activity's failure arrives as its cause
        if is_cancelled_exception(exc):
            raise
        workflow.logger.info("a local step failed, going on as an activity: %s", exc)
    return await workflow.execute_activity_method(method, request, **regular)
