"""Timeouts, retry policies and task-queue names: the one place Temporal's knobs are set."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

WORKFLOW_NAME = "AgentTaskWorkflow"


def task_queue_for_pool(pool: str) -> str:
    """Each worker pool polls its own queue, so one pool's flood never starves another."""
    return f"agentry-{pool}"


def workflow_id_for_task(task_id: str) -> str:
    return f"task-{task_id}"


# Bookkeeping in Postgres: quick, retried until the database is back.
STORE_TIMEOUT = timedelta(seconds=30)
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)

# Model calls: slow on CPU, so a generous start-to-close; heartbeats detect a dead worker fast.
MODEL_CALL_TIMEOUT = timedelta(minutes=10)
MODEL_CALL_HEARTBEAT = timedelta(seconds=10)
MODEL_CALL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=6,
    non_retryable_error_types=["ModelRequestRejected"],
)
# A call held by admission control (activities/model_admission.py) longer than the longest hold
# gives its activity slot back with this error type: retryable (a later attempt is admitted when
# the server has room), after this short delay rather than the backoff.
MODEL_SERVER_SATURATED = "ModelServerSaturated"
MODEL_CALL_HELD_RETRY_DELAY = timedelta(seconds=2)

# Tools: a failing tool is reported to the model, so only infrastructure errors retry here.
TOOL_CALL_TIMEOUT = timedelta(minutes=5)
TOOL_CALL_HEARTBEAT = timedelta(seconds=30)
TOOL_CALL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)

# A long task continues as new before its history grows large.
CONTINUE_AS_NEW_AFTER_ITERATIONS = 50

# Approval webhooks: retried with backoff for a while, then given up (never blocks the task).
WEBHOOK_TIMEOUT = timedelta(seconds=30)
WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=8,
)
