"""A failed step's error, as the tenant reads it: our own messages with URLs and addresses
masked; any other exception as the step and its type, never its text (SQL, parameters)."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError

from workflows.contracts.memory import CONTEXT_EXCEEDED
from workflows.failures import public_failure


def failed(activity_type: str, cause: BaseException) -> ActivityError:
    error = ActivityError(
        "activity error", scheduled_event_id=5, started_event_id=6, identity="worker@host-7",
        activity_type=activity_type, activity_id="9", retry_state=None,
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
