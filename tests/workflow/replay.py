"""Replaying fresh histories, and keeping them for test_replay.py when asked to."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.agent_task import AgentTaskWorkflow

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("AGENTRY_RECORD_HISTORIES") == "1"


async def replay_and_maybe_record(handle: WorkflowHandle[Any, Any], name: str | None) -> None:
    """Replay the fresh history on this code; with AGENTRY_RECORD_HISTORIES=1 keep it for
    test_replay.py, which replays the kept ones on every later version of the code."""
    history = await handle.fetch_history()
    replayer = Replayer(workflows=[AgentTaskWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
    if RECORD and name is not None:
        (HISTORIES / f"{name}.json").write_text(history.to_json())
