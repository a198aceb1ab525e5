"""The engine's pool: a connection the server dropped is replaced when it is next taken, and
an autocommitting session runs each statement on its own (activities/db/engine.py)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.engine import autocommitting, create_engine, create_session_factory


async def test_a_connection_the_server_dropped_is_replaced_when_taken(
    postgres_url: str, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    engine = create_engine(postgres_url, pool_size=1)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            first = await session.scalar(text("SELECT pg_backend_pid()"))
        async with sessions() as session:
            assert await session.scalar(text("SELECT pg_backend_pid()")) == first  # pooled
        async with db_sessions.begin() as session:  # ends the pooled connection's backend
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        async with sessions() as session:
            again = await session.scalar(text("SELECT pg_backend_pid()"))
        assert again is not None and again != first
    finally:
        await engine.dispose()


async def test_an_autocommitting_session_holds_no_transaction(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=1)
    sessions = create_session_factory(engine)
    try:
        async with autocommitting(sessions) as session:
            assert await session.scalar(text("SELECT now() = statement_timestamp()")) is False
            assert await session.scalar(text("SELECT txid_current_if_assigned()")) is None
        async with sessions() as session:  # the connection went back as it came
            assert await session.scalar(text("SELECT now() = statement_timestamp()")) is False
            await session.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
