"""What a tenant reads when a step of its task fails: what failed, in words.

An activity's exception text can hold SQL with its parameters, hosts and URLs of our services,
or a stack of library messages. Our own errors (raised as `ApplicationError` with a message
written for people) are kept, with any URL or address in them masked; anything else becomes
the step's name and the exception's type. Pure: it runs in the workflow.
"""

from __future__ import annotations

import re

from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError

from workflows.contracts.approvals import APPROVAL_MISSING
from workflows.contracts.budgets import SPEND_LIMIT
from workflows.contracts.lifecycle import DATABASE_UNREACHABLE, TASK_MISSING
from workflows.contracts.memory import CONTEXT_EXCEEDED
from workflows.contracts.model_turns import (
    MODEL_REPEATING,
    MODEL_REQUEST_REJECTED,
    MODEL_SERVER_SATURATED,
)
from workflows.policies import DATABASE_OUTAGE_LIMIT

STEPS = {
    "model_turn": "the model call",
    "run_tool": "a tool call",
    "summarize": "summarising the task's memory",
    "begin_task": "starting the task",
    "finish_task": "recording the task's end",
    "set_status": "recording the task's status",
    "request_approvals": "recording an approval request",
    "open_child": "starting a sub-agent",
    "close_child": "collecting a sub-agent's result",
}
# An exception an activity did not mean to raise reaches the workflow as an ApplicationError
# whose type is the exception's class name; ours carry no type or one of these.
OUR_ERROR_TYPES = frozenset(
    {None, CONTEXT_EXCEEDED, MODEL_REQUEST_REJECTED, MODEL_REPEATING, MODEL_SERVER_SATURATED,
     TASK_MISSING, APPROVAL_MISSING, SPEND_LIMIT}
)  # fmt: skip
MAX_CHARS = 500
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_ADDRESS = re.compile(
    r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9a-f:]+\](?::\d+)?", re.IGNORECASE
)
_SQL = re.compile(r"\[SQL:.*", re.DOTALL)


def public_failure(exc: BaseException) -> str:
    """The message for the task's `error`."""
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    step = STEPS.get(exc.activity_type or "", "a step") if isinstance(exc, ActivityError) else ""
    if cause is None:
        cause = exc
    if isinstance(cause, TimeoutError) and _unreachable(cause.cause):
        cause = cause.cause
    if _unreachable(cause):
        gave_up = isinstance(exc, ActivityError) and exc.retry_state == RetryState.TIMEOUT
        if gave_up:  # retried for as long as its schedule-to-close allows: the outage limit
            minutes = int(DATABASE_OUTAGE_LIMIT.total_seconds() // 60)
            return (
                f"{step or 'a step'} failed: the database stayed unreachable for {minutes} minutes"
            )
        return f"{step or 'a step'} failed: the database was unreachable"
    if isinstance(cause, ApplicationError) and cause.type in OUR_ERROR_TYPES:
        return masked(cause.message)
    kind = type(cause).__name__ if not isinstance(cause, ApplicationError) else cause.type
    where = f"{step} failed" if step else "the task failed"
    return f"{where} ({kind}); the details are in the service's logs"


def failed_step(activity_type: str) -> ActivityError:
    """For a local activity's failure, which reaches the workflow as its bare cause: the
    ActivityError a regular activity's failure is, for the code that reads those. Raise it
    `from` the failure, which makes that its cause."""
    return ActivityError(
        f"{activity_type} failed",
        scheduled_event_id=0,
        started_event_id=0,
        identity="",
        activity_type=activity_type,
        activity_id="",
        retry_state=None,
    )


def _unreachable(exc: BaseException | None) -> bool:
    return isinstance(exc, ApplicationError) and exc.type == DATABASE_UNREACHABLE


def masked(message: str) -> str:
    text = _SQL.sub("[SQL hidden]", message)
    text = _URL.sub("<url>", text)
    text = _ADDRESS.sub("<address>", text)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
