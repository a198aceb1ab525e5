"""A step's paid-for outcome kept in Temporal while Postgres cannot record it.

A model reply is bought, a tool call is made, and then Postgres is unreachable: the activity
waits the outage out inside its attempt (activities/db/outages.py). Should its worker die
meanwhile, or the attempt run out of time, the retry must not buy the reply or make the call
again. So once the first recording fails for want of the database, the outcome goes into the
activity's heartbeat details (a second at most later it is in Temporal: the worker flushes
heartbeats every second), and an attempt that starts finds it there and only records it.

This costs nothing while Postgres answers (nothing is kept) and no extra activity per step;
the outcome stays out of the workflow's history (a pending activity's heartbeat details live
in Temporal's state of the workflow, and reach the history only if the activity finally fails).
An outcome larger than MAX_KEPT_BYTES is not kept (Temporal refuses large heartbeats): its
step is then made again if its worker dies during an outage, as the log says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import activity

from activities.heartbeat import HeartbeatDetails

logger = logging.getLogger(__name__)

MAX_KEPT_BYTES = 256 * 1024  # well under Temporal's 512 KB warning for one payload


class KeptStep(BaseModel):
    kept_step: str  # the step's key (e.g. "model:3"): a retry of another step ignores it
    outcome: dict[str, Any]


def keeper(
    details: HeartbeatDetails, step_key: str, outcome: Callable[[], dict[str, Any]]
) -> Callable[[], None]:
    """For `outlasting_outages(..., on_unreachable=...)`: puts `outcome()` in the heartbeats of
    the running activity, and sends one at once."""

    def keep() -> None:
        kept = KeptStep(kept_step=step_key, outcome=outcome()).model_dump(mode="json")
        size = len(KeptStep.model_validate(kept).model_dump_json())
        if size > MAX_KEPT_BYTES:
            logger.warning(
                "%s: its outcome (%d bytes) is too large to keep in Temporal while the database "
                "is unreachable; if this worker dies before it is recorded, the step runs again",
                step_key, size,
            )  # fmt: skip
            return
        details.current = lambda: (kept,)
        if activity.in_activity() and not activity.info().is_local:  # no heartbeats there
            activity.heartbeat(kept)

    return keep


def kept_outcome(step_key: str) -> dict[str, Any] | None:
    """What an earlier attempt of this activity kept for `step_key`, if it did."""
    if not activity.in_activity():
        return None
    for detail in activity.info().heartbeat_details:
        try:
            kept = KeptStep.model_validate(detail)
        except ValidationError:
            continue  # another kind of progress (e.g. a model call's time held)
        if kept.kept_step == step_key:
            activity.logger.info("%s: recording what an earlier attempt kept", step_key)
            return kept.outcome
    return None
