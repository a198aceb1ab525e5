"""Every step that writes to Postgres outlasts a three-minute outage, within a bound."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from activities.db.outages import MARGIN_SECONDS
from services.settings import Settings
from workflows import policies

ROOT = Path(__file__).resolve().parents[2]
OUTAGE = timedelta(minutes=3)


def test_bookkeeping_retries_until_the_database_is_back_but_not_forever() -> None:
    retry = policies.STORE_RETRY
    assert retry.maximum_attempts == 0  # no limit on attempts, only on the time they span
    assert retry.maximum_interval is not None and retry.maximum_interval <= timedelta(seconds=10)
    assert OUTAGE * 5 <= policies.STORE_SCHEDULE_TO_CLOSE <= timedelta(hours=2)


def test_every_bookkeeping_step_a_workflow_schedules_is_bounded_in_time() -> None:
    """Each activity call with the store retry policy also passes its schedule-to-close."""
    unbounded = []
    for path in (ROOT / "workflows").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            given = {k.arg: ast.unparse(k.value) for k in node.keywords}
            if given.get("retry_policy") == "policies.STORE_RETRY" and (
                given.get("schedule_to_close_timeout") != "policies.STORE_SCHEDULE_TO_CLOSE"
            ):
                unbounded.append(f"{path.name}:{node.lineno}")
    assert unbounded == []


def test_a_paid_step_waits_out_the_outage_inside_one_attempt() -> None:
    """Model calls and tool calls record their outcome within the attempt that made it."""
    model_wait = policies.MODEL_CALL_TIMEOUT.total_seconds() - MARGIN_SECONDS
    assert model_wait >= OUTAGE.total_seconds()
    default_tool_run = Settings(_env_file=None).tool_wall_seconds
    tool_wait = policies.TOOL_CALL_TIMEOUT.total_seconds() - default_tool_run - MARGIN_SECONDS
    assert tool_wait >= OUTAGE.total_seconds()
