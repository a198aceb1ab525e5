"""The scan run after the suite (tests/secret_scan.py) finds a secret wherever it is planted,
so its silence at the end of a run means something."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.db.events import EventRepository, NewEvent
from services.settings import Settings
from tests.integration.helpers import new_task_row
from tests.secret_scan import Finding, scan_histories, scan_logs, scan_records, secrets_of

PLANTED = "ak_live_0123456789abcdef"


def test_the_secrets_include_every_key_the_stack_knows() -> None:
    settings = Settings(
        _env_file=None,
        litellm_key="sk-litellm-abcdef",
        model_server_key="sk-model-abcdef",
        approval_webhook_secret="whsec-abcdef",
        database_url="postgresql+asyncpg://agentry:pw-secret-1@db/agentry",
    )
    assert set(secrets_of(settings, [PLANTED]).values()) == {
        PLANTED, "sk-litellm-abcdef", "sk-model-abcdef", "whsec-abcdef", "pw-secret-1",
    }  # fmt: skip


def test_a_secret_in_a_log_file_is_found(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "worker.log").write_text(f"calling with Bearer {PLANTED}\n")
    (tmp_path / "logs" / "gateway.log").write_text("nothing to see\n")
    assert scan_logs(tmp_path, {"api key": PLANTED}) == [Finding("api key", "logs/worker.log")]


async def test_a_secret_in_a_tasks_events_is_found(
    db_sessions: async_sessionmaker[AsyncSession], postgres_url: str
) -> None:
    task_id = await new_task_row(db_sessions, "scan")
    async with db_sessions.begin() as session:
        await EventRepository(session).add(task_id, "x", NewEvent("note", {"said": PLANTED}))
    findings = await scan_records(postgres_url, {"api key": PLANTED})
    assert Finding("api key", "table task_events") in findings


async def test_a_secret_in_a_workflow_history_is_found(temporal_client: Client) -> None:
    """A workflow no worker runs still has its input in its history."""
    handle = await temporal_client.start_workflow(
        "no-such-workflow", PLANTED, id=f"scan-{uuid.uuid4().hex}", task_queue="scan-nobody"
    )
    try:
        findings = await scan_histories(temporal_client, {"api key": PLANTED})
    finally:
        await handle.terminate("scanned")
    assert Finding("api key", f"history of {handle.id}") in findings
