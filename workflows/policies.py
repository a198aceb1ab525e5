"""Timeouts and retry policies: the one place Temporal's knobs for activities are set."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

from workflows.contracts.model_turns import MODEL_REQUEST_REJECTED

# A Postgres outage (a restart, a failover) is waited out by the bookkeeping steps for this
# long, a longer one fails the task, saying so. Model and tool calls wait inside each attempt
# (activities/db/outages.py: ~9.5 and ~4.5 minutes), their outcome kept for the next attempt.
DATABASE_OUTAGE_LIMIT = timedelta(minutes=30)

# Bookkeeping in Postgres: quick, retried until the database is back: every 10 s at most, with
# no limit on attempts, only on the time they span (STORE_SCHEDULE_TO_CLOSE).
STORE_TIMEOUT = timedelta(seconds=30)
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)
STORE_SCHEDULE_TO_CLOSE = DATABASE_OUTAGE_LIMIT
STORE_STEP: dict[str, Any] = {  # a bookkeeping step as a regular activity
    "start_to_close_timeout": STORE_TIMEOUT,
    "schedule_to_close_timeout": STORE_SCHEDULE_TO_CLOSE,
    "retry_policy": STORE_RETRY,
}
# Bookkeeping runs as a local activity first (workflows/bookkeeping.py): up to three attempts
# within LOCAL_STORE_LIMIT, each at most LOCAL_STORE_TIMEOUT, then as a regular activity under
# STORE_RETRY. Short, because a local activity holds its workflow task open meanwhile.
LOCAL_STORE_TIMEOUT = timedelta(seconds=3)
LOCAL_STORE_LIMIT = timedelta(seconds=8)
LOCAL_STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_attempts=3
)

# A killed worker's activity is retried within 5 s: its heartbeats (sent every second, flushed
# at most a second apart: services/worker/process.py) stop, Temporal times it out after
# HEARTBEAT_TIMEOUT, and the retry is scheduled half a second later. A slow but alive call
# heartbeats on (activities/heartbeat.py), so it is never cut short.
HEARTBEAT_TIMEOUT = timedelta(seconds=3)
FIRST_RETRY_AFTER = timedelta(milliseconds=500)

# Model calls: slow on CPU, so a generous start-to-close; heartbeats detect a dead worker fast.
# A database outage while a reply is recorded is waited out inside the attempt (the reply is
# kept: activities/db/outages.py), so these attempts are for the model server's own failures.
MODEL_CALL_TIMEOUT = timedelta(minutes=10)
MODEL_CALL_HEARTBEAT = HEARTBEAT_TIMEOUT
MODEL_CALL_RETRY = RetryPolicy(
    initial_interval=FIRST_RETRY_AFTER,
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    # ten attempts span about two minutes: a LiteLLM or model-server restart is waited out
    maximum_attempts=10,
    non_retryable_error_types=[MODEL_REQUEST_REJECTED],
)

# A model turn as a local activity (a pool's `model_turns: local`): the same timeout and retries,
# no heartbeats (the worker heartbeats its workflow task meanwhile, every 8 s by default).
LOCAL_MODEL_TURN: dict[str, Any] = {
    "start_to_close_timeout": MODEL_CALL_TIMEOUT,
    "retry_policy": MODEL_CALL_RETRY,
}

MODEL_CHECK_STEP: dict[str, Any] = {  # an answer judged by a model (answer_check: model)
    "start_to_close_timeout": MODEL_CALL_TIMEOUT,
    "heartbeat_timeout": MODEL_CALL_HEARTBEAT,
    "retry_policy": MODEL_CALL_RETRY,
}

# Tools: a failing tool is reported to the model, so only infrastructure errors retry here.
TOOL_CALL_TIMEOUT = timedelta(minutes=5)
TOOL_CALL_HEARTBEAT = HEARTBEAT_TIMEOUT
TOOL_CALL_RETRY = RetryPolicy(
    initial_interval=FIRST_RETRY_AFTER,
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)
TOOL_CALL_STEP: dict[str, Any] = {  # a tool call as a regular activity
    "start_to_close_timeout": TOOL_CALL_TIMEOUT,
    "heartbeat_timeout": TOOL_CALL_HEARTBEAT,
    "retry_policy": TOOL_CALL_RETRY,
}

# Quick tools (activities/tools/tool.py `quick`) run as local activities, in the workflow task
# that asked for them: no activity task, no extra workflow task. A call that fails twice or
# overruns these goes on as a regular tool call (TOOL_CALL_*).
QUICK_TOOL_TIMEOUT = timedelta(seconds=5)
QUICK_TOOL_LIMIT = timedelta(seconds=8)
QUICK_TOOL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=2)

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
