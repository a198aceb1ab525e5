"""Recorded histories must replay on the current workflow code: a change that would break
running workflows fails here instead of in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from services.worker.runner import workflow_runner
from workflows.agent_task import AgentTaskWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


@pytest.mark.parametrize("runner", ["stock-sandbox", "workers-runner"])
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays_on_current_code(path: Path, runner: str) -> None:
    """On Temporal's own sandbox, and on the runner workers use (services/worker/runner.py)."""
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    options = {}
    if runner == "workers-runner":
        options["workflow_runner"] = workflow_runner(pydantic_data_converter)
    replayer = Replayer(
        workflows=[AgentTaskWorkflow], data_converter=pydantic_data_converter, **options
    )
    await replayer.replay_workflow(history)


def test_there_are_recorded_histories() -> None:
    assert len(HISTORIES) >= 3, "record histories with tests/workflow/record_histories.py"
