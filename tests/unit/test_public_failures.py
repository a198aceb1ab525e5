"""A failed step's error, as the tenant reads it: our own messages with URLs and addresses
masked; any other exception as the step and its type, never its text (SQL, parameters)."""

from __future__ import annotations

from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    TimeoutError,
    TimeoutType,
)

from workflows.contracts.lifecycle import DATABASE_UNREACHABLE
from workflows.contracts.memory import CONTEXT_EXCEEDED
from workflows.failures import failed_step, public_failure
from workflows.policies import DATABASE_OUTAGE_LIMIT


def failed(
    activity_type: str, cause: BaseException, retry_state: RetryState | None = None
) -> ActivityError:
    error = ActivityError(
        "activity error", scheduled_event_id=5, started_event_id=6, identity="worker@host-7",
        activity_type=activity_type, activity_id="9", retry_state=retry_state,
    )  # fmt: skip
    error.__cause__ = cause
    return error


def test_a_foreign_exception_shows_only_the_step_and_its_type() -> None:
    database = ApplicationError(
        "(sqlalchemy.dialects.postgresql.asyncpg.IntegrityError) duplicate key "
        "[SQL: INSERT INTO messages (content) VALUES ($1)] [parameters: ('card 4111-1111',)]",
        type="IntegrityError",
    )
    message = public_failure(failed("model_turn", database))
    assert (
        message == "the model call failed (IntegrityError); the details are in the service's logs"
    )


def test_our_own_message_is_kept_with_urls_and_addresses_masked() -> None:
    gateway = ApplicationError(
        "model gateway failed (500): cannot reach http://10.0.0.7:8081/v1/chat at 10.0.0.7:8081"
    )
    assert public_failure(failed("model_turn", gateway)) == (
        "model gateway failed (500): cannot reach <url> at <address>"
    )
    too_long = ApplicationError("the prompt is 9000 tokens", type=CONTEXT_EXCEEDED)
    assert public_failure(failed("model_turn", too_long)) == "the prompt is 9000 tokens"


def test_an_unknown_step_still_reads_in_words() -> None:
    assert public_failure(failed("new_step", ApplicationError("x", type="KeyError"))) == (
        "a step failed (KeyError); the details are in the service's logs"
    )


def test_a_database_outage_reads_as_one_and_says_how_long_it_was_waited_out() -> None:
    unreachable = ApplicationError("the database is unreachable", type=DATABASE_UNREACHABLE)
    assert public_failure(failed("model_turn", unreachable)) == (
        "the model call failed: the database was unreachable"
    )
    minutes = int(DATABASE_OUTAGE_LIMIT.total_seconds() // 60)
    gave_up = (
        f"recording the task's end failed: the database stayed unreachable for {minutes} minutes"
    )
    # retried until the next retry would pass the schedule-to-close: the last failure
    assert public_failure(failed("finish_task", unreachable, RetryState.TIMEOUT)) == gave_up
    # or the timeout itself, caused by it
    timed_out = TimeoutError(
        "activity ScheduleToClose timeout",
        type=TimeoutType.SCHEDULE_TO_CLOSE,
        last_heartbeat_details=[],
    )
    timed_out.__cause__ = unreachable
    assert public_failure(failed("finish_task", timed_out, RetryState.TIMEOUT)) == gave_up


def test_a_local_turns_bare_failure_reads_as_the_model_call_that_failed() -> None:
    """A local activity's failure reaches the workflow as its bare cause; `failed_step` puts
    the step back around it, so the tenant reads the same words as for a regular turn."""
    database = ApplicationError("duplicate key [SQL: INSERT ...]", type="IntegrityError")
    try:
        raise failed_step("model_turn") from database
    except ActivityError as error:
        wrapped = error
    assert wrapped.cause is database and wrapped.activity_type == "model_turn"
    assert public_failure(wrapped) == public_failure(failed("model_turn", database))
