"""Engine and session factory: opened once per process and handed to whoever needs them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """Connections are checked when taken from the pool (a broken one, e.g. after a Postgres
    restart, is replaced instead of failing its first statement), by one round trip."""
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True)
    engine.dialect.do_ping = _ping  # type: ignore[method-assign]
    return engine


def _ping(dbapi_connection: Any) -> bool:
    """SQLAlchemy's asyncpg ping wraps its `;` in BEGIN and ROLLBACK (for PgBouncer's
    transaction mode, which nothing here uses): three round trips on every checkout. This is
    the `;` alone; False (reconnect) when it fails."""
    try:
        dbapi_connection.run_async(lambda connection: connection.fetchrow(";"))
    except Exception:
        return False
    return True


@asynccontextmanager
async def autocommitting(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose every statement is a transaction of its own: no BEGIN and COMMIT or
    ROLLBACK round trips around it. For reads, and for a write made by one statement."""
    async with sessions() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def opened_sessions(
    url: str, pool_size: int = 1
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on an engine of its own, disposed of on exit: for short-lived
    callers such as a CLI command."""
    engine = create_engine(url, pool_size=pool_size)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def answers(session: AsyncSession) -> bool:
    """True when the database answers a trivial query (readiness probes)."""
    await session.execute(text("SELECT 1"))
    return True
