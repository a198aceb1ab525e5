"""An activity that fails because Postgres is unreachable fails as one short, typed sentence.

The exception itself (SQLAlchemy's, with the statement and its parameters, or asyncpg's, with
the address) goes to the worker's log; what Temporal keeps, and what the workflow reads, is an
`ApplicationError` of type DATABASE_UNREACHABLE. It stays retryable: the step's retry policy
waits the outage out (workflows/policies.py), and a task that fails for it says so in words.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities.db.outages import database_unreachable
from workflows.contracts.lifecycle import DATABASE_UNREACHABLE


class DatabaseOutages(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)


class _Inbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            activity.logger.warning("the database is unreachable", exc_info=exc)
            raise ApplicationError(
                "the database is unreachable", type=DATABASE_UNREACHABLE
            ) from None
