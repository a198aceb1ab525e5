"""Schema upgrades (the Alembic scripts in deploy/migrations), callable from any process that
starts against the database.

The gateway, the workers and the dev supervisor may each call `upgrade_database` at start;
deploy/migrations/env.py serialises them with a Postgres advisory lock.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

# at the project's root; found from here because activities may not import services.settings
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
# pg_advisory_xact_lock key; any constant that no other code uses ("agentry" in ASCII).
MIGRATION_LOCK_ID = 0x6167656E747279
_INVALID_CATALOG_NAME = "3D000"
# duplicate_database, or unique_violation on pg_database when two CREATEs race
_DATABASE_ALREADY_CREATED = {"42P04", "23505"}


def sync_database_url(database_url: str) -> str:
    """Alembic runs synchronously: swap the asyncpg driver for psycopg, keep everything else."""
    url = make_url(database_url)
    if url.drivername in ("postgresql+asyncpg", "postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def ensure_database_exists(database_url: str) -> bool:
    """Create the URL's database when the server lacks it; True if this call created it.

    The embedded server starts with only `postgres`; a managed database already exists, so
    there this costs one connection. A failed connection is only followed up through the
    `postgres` database (libpq reports a missing database without an SQLSTATE).
    """
    url = make_url(sync_database_url(database_url))
    name = url.database
    if not name:
        raise ValueError("the database URL names no database")
    probe = create_engine(url, poolclass=NullPool)
    try:
        with probe.connect():
            return False
    except OperationalError as original:
        if _create_missing_database(url, name):
            logger.info("created database %s", name)
            return True
        # it exists after all: another process created it since the probe, or the probe
        # failed for another reason, which a second probe shows
        try:
            with probe.connect():
                return False
        except OperationalError:
            raise original from None
    finally:
        probe.dispose()


def _create_missing_database(url: URL, name: str) -> bool:
    """False when the database exists after all (the probe failed for another reason)."""
    admin = create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists:
                return False
            quoted = connection.dialect.identifier_preparer.quote(name)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    except DBAPIError as exc:
        # another process created it between our check and our CREATE
        if getattr(exc.orig, "sqlstate", None) in _DATABASE_ALREADY_CREATED:
            return True
        raise
    except OperationalError:
        return False
    finally:
        admin.dispose()


def alembic_config(database_url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = database_url
    # leave the calling process's logging alone
    config.attributes["configure_logging"] = False
    return config


def upgrade_database(database_url: str) -> None:
    """`alembic upgrade head`, creating the database first when it is missing."""
    ensure_database_exists(database_url)
    command.upgrade(alembic_config(database_url), "head")
