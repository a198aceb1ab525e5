"""Which database errors are an outage (waited out by the activities, a 503 with Retry-After
from the gateway) and which are not (raised at once, a 500)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import (
    AsyncAdapt_asyncpg_connection,
    AsyncAdapt_asyncpg_dbapi,
)
from sqlalchemy.exc import DBAPIError

from activities.db.outages import database_unreachable

DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)


def as_sqlalchemy_raises_it(error: Exception) -> DBAPIError:
    """asyncpg's error as SQLAlchemy hands it on: translated to its emulated DBAPI error."""
    try:
        AsyncAdapt_asyncpg_connection._handle_exception_no_connection(DBAPI, error)
    except Exception as translated:
        return DBAPIError.instance(None, None, translated, DBAPI.Error)
    raise AssertionError("not raised")


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
    ],
)
def test_postgres_restarting_or_away_is_an_outage(error: Exception) -> None:
    assert database_unreachable(as_sqlalchemy_raises_it(error))


def test_a_refused_connection_is_an_outage() -> None:
    assert database_unreachable(ConnectionRefusedError(111, "Connect call failed"))


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError("relation does not exist"),
    ],
)
def test_an_error_of_the_statement_is_not(error: Exception) -> None:
    assert not database_unreachable(as_sqlalchemy_raises_it(error))
