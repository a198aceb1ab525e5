"""Migrations against the session's real Postgres: they build exactly the models' schema, create
a missing database, and tolerate several processes upgrading at once."""

from __future__ import annotations

import multiprocessing
import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from activities.db.migrations import (
    alembic_config,
    ensure_database_exists,
    sync_database_url,
    upgrade_database,
)
from activities.db.models import Base

TABLES = {
    "tenants",
    "api_keys",
    "tasks",
    "messages",
    "task_events",
    "approvals",
    "pool_replicas",
    "workspace_files",
    "tenant_spend",
    "spend_reservations",
    "task_followers",
    "shadow_comparisons",
    "agent_versions",
    "pool_samples",
}


def database_url(postgres_url: str, name: str) -> str:
    return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


def table_names(url: str) -> set[str]:
    engine = create_engine(sync_database_url(url))
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_the_migrated_schema_is_exactly_the_models(postgres_url: str) -> None:
    engine = create_engine(sync_database_url(postgres_url))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            inspector = inspect(connection)
            tasks_indexes = {index["name"] for index in inspector.get_indexes("tasks")}
            tasks_uniques = {u["name"] for u in inspector.get_unique_constraints("tasks")}
            approval_indexes = {
                index["name"]: index for index in inspector.get_indexes("approvals")
            }
            approval_uniques = {u["name"] for u in inspector.get_unique_constraints("approvals")}
    finally:
        engine.dispose()
    assert differences == []
    assert {"ix_tasks_tenant_created", "ix_tasks_tenant_status", "ix_tasks_agent_status"} <= (
        tasks_indexes
    )
    assert "uq_tasks_tenant_idempotency" in tasks_uniques
    assert "uq_approvals_task_call" in approval_uniques
    assert approval_indexes["ix_approvals_tenant_status_created"]["column_names"] == [
        "tenant_id",
        "status",
        "created_at",
        "id",
    ]
    # the outbox index is partial: only decided rows not yet signalled
    unsignalled = approval_indexes["ix_approvals_unsignalled"]
    where = unsignalled["dialect_options"]["postgresql_where"]
    assert "signalled_at IS NULL" in where and "decided_at IS NOT NULL" in where
    assert table_names(postgres_url) == TABLES | {"alembic_version"}


def test_upgrade_creates_a_missing_database_and_is_idempotent(postgres_url: str) -> None:
    url = database_url(postgres_url, f"fresh_{uuid.uuid4().hex[:8]}")

    assert ensure_database_exists(url) is True
    assert ensure_database_exists(url) is False
    upgrade_database(url)
    upgrade_database(url)
    assert table_names(url) == TABLES | {"alembic_version"}

    command.downgrade(alembic_config(url), "base")
    assert table_names(url) == {"alembic_version"}


def test_processes_upgrading_at_once_all_succeed(postgres_url: str) -> None:
    url = database_url(postgres_url, f"race_{uuid.uuid4().hex[:8]}")
    # fork: the children start with everything imported, so they really start together
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=upgrade_database, args=(url,)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)

    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert table_names(url) == TABLES | {"alembic_version"}
