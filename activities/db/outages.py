"""Telling a database outage from other errors, and waiting one out inside an activity.

A model reply already paid for, or a tool call already made, must not be bought or made again
because Postgres was away when it was to be recorded. So the activities run their database
steps through `outlasting_outages`: while Postgres is unreachable the step is tried again
with backoff, for as long as the attempt's start-to-close timeout leaves room (minutes), with
the activity's heartbeats going on (activities/heartbeat.py). Any other error is raised at once.
Meanwhile what the step was to record is kept in Temporal (activities/kept_steps.py), so that
not even the worker's death or the attempt's end makes the reply bought or the call made again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from sqlalchemy.exc import DBAPIError, EmulatedDBAPIException
from temporalio import activity

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Postgres unreachable or the connection broke (a restart, a failover): asyncpg's own errors,
# and what SQLAlchemy lets through from connecting
_UNREACHABLE = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)
FIRST_WAIT, LONGEST_WAIT = 0.25, 5.0  # seconds between tries
MARGIN_SECONDS = 15.0  # left of the attempt's start-to-close when giving up
OUTSIDE_AN_ACTIVITY_SECONDS = 240.0


def database_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig: BaseException | None = exc.orig
        if isinstance(orig, EmulatedDBAPIException):  # SQLAlchemy's stand-in for asyncpg's
            orig = orig.driver_exception  # e.g. "the database system is starting up" (57P03)
        return isinstance(orig, _UNREACHABLE)
    return isinstance(exc, _UNREACHABLE)


async def outlasting_outages(
    step: Callable[[], Awaitable[T]],
    what: str,
    on_unreachable: Callable[[], None] | None = None,
) -> T:
    """`step()`, tried again while the database is unreachable (see the module's doc).
    `on_unreachable` is called once, when the database is first found unreachable (before
    waiting, and before giving up): to keep what the step was to record (kept_steps.py)."""
    give_up_at = time.monotonic() + _time_left()
    wait = FIRST_WAIT
    while True:
        try:
            return await step()
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            if on_unreachable is not None:
                on_unreachable()
                on_unreachable = None
            if time.monotonic() + wait > give_up_at:
                raise
            logger.warning(
                "%s: the database is unreachable (%s); trying again in %.2gs",
                what, type(exc).__name__, wait,
            )  # fmt: skip
        await asyncio.sleep(wait)
        wait = min(wait * 2, LONGEST_WAIT)


def _time_left() -> float:
    """Seconds this attempt may still wait, short of its start-to-close timeout."""
    if not activity.in_activity():
        return OUTSIDE_AN_ACTIVITY_SECONDS
    info = activity.info()
    if info.start_to_close_timeout is None:
        return OUTSIDE_AN_ACTIVITY_SECONDS
    ends = info.started_time + info.start_to_close_timeout
    return max((ends - datetime.now(UTC)).total_seconds() - MARGIN_SECONDS, 0.0)
