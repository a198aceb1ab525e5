"""After the suite: no secret in the stack's logs, its workflow histories or its task records.

Run from the session stack's teardown (tests/conftest.py), so every test that used the stack
has left its traces by then. Secrets are the API keys the stack issued, the LiteLLM master key,
the model-server key, the webhook secret and the database password when the URL has one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from temporalio.client import Client

from activities.db.engine import create_engine
from services.settings import Settings

# every table a tenant's data or a task's trace lands in (api_keys holds hashes, not keys)
RECORD_TABLES = ("tasks", "task_events", "messages", "approvals", "workspace_files")


@dataclass(frozen=True)
class Finding:
    secret_name: str
    where: str


def secrets_of(settings: Settings, api_keys: Iterable[str]) -> dict[str, str]:
    found = {f"api key {key[:12]}…": key for key in api_keys}
    found["litellm key"] = settings.litellm_key.get_secret_value()
    found["model-server key"] = settings.model_server_key.get_secret_value()
    found["large-model key"] = settings.large_model_api_key.get_secret_value()
    if settings.metrics_token is not None:
        found["metrics token"] = settings.metrics_token.get_secret_value()
    if settings.approval_webhook_secret is not None:
        found["webhook secret"] = settings.approval_webhook_secret.get_secret_value()
    for server, token in settings.mcp_server_tokens.items():
        found[f"MCP token of {server}"] = token.get_secret_value()
    if settings.langfuse_secret_key is not None:
        found["langfuse secret key"] = settings.langfuse_secret_key.get_secret_value()
    password = make_url(settings.resolved_database_url).password
    if password:
        found["database password"] = str(password)
    return {name: value for name, value in found.items() if len(value) >= 8}


def scan_text(blob: bytes, where: str, secrets: dict[str, str]) -> list[Finding]:
    return [Finding(name, where) for name, value in secrets.items() if value.encode() in blob]


def scan_logs(folder: Path, secrets: dict[str, str]) -> list[Finding]:
    findings = []
    for path in sorted(folder.rglob("*.log")):
        findings += scan_text(path.read_bytes(), str(path.relative_to(folder)), secrets)
    return findings


async def scan_histories(client: Client, secrets: dict[str, str]) -> list[Finding]:
    findings = []
    async for workflow in client.list_workflows():
        history = await client.get_workflow_handle(
            workflow.id, run_id=workflow.run_id
        ).fetch_history()
        blob = b"".join(event.SerializeToString() for event in history.events)
        findings += scan_text(blob, f"history of {workflow.id}", secrets)
    return findings


async def scan_records(database_url: str, secrets: dict[str, str]) -> list[Finding]:
    engine = create_engine(database_url, pool_size=1)
    findings = []
    try:
        async with engine.connect() as connection:
            for table in RECORD_TABLES:
                rows = await connection.execute(text(f"SELECT t::text FROM {table} t"))  # noqa: S608
                blob = "\n".join(row[0] for row in rows).encode()
                findings += scan_text(blob, f"table {table}", secrets)
    finally:
        await engine.dispose()
    return findings
