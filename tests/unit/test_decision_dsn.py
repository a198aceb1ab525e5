"""The decision repository's asyncpg pool reaches the same database as the SQLAlchemy engine."""

from __future__ import annotations

from activities.db.decisions import asyncpg_dsn


def test_the_driver_is_dropped_and_credentials_kept() -> None:
    dsn, ssl = asyncpg_dsn("postgresql+asyncpg://agentry:s3cr%40t@db.internal:5432/agentry")
    assert dsn == "postgresql://agentry:s3cr%40t@db.internal:5432/agentry"
    assert ssl is None


def test_ssl_becomes_a_connect_argument_and_other_options_stay_in_the_dsn() -> None:
    dsn, ssl = asyncpg_dsn("postgresql+asyncpg://u:p@h/agentry?ssl=require&sslrootcert=/etc/ca.pem")
    assert ssl == "require"
    assert dsn == "postgresql://u:p@h/agentry?sslrootcert=%2Fetc%2Fca.pem"
