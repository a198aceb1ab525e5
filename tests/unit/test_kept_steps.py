"""An outcome Postgres could not take is kept in the activity's heartbeats for the retry
(activities/kept_steps.py), a tool call's file changes with it."""

from __future__ import annotations

import base64
import uuid

from activities.heartbeat import HeartbeatDetails
from activities.kept_steps import MAX_KEPT_BYTES, KeptStep, keeper, kept_outcome
from activities.task_workspace import TaskWorkspace, WorkspaceQuota


def test_a_kept_outcome_rides_the_heartbeats_and_only_when_small_enough() -> None:
    details = HeartbeatDetails()
    keeper(details, "model:3", lambda: {"reply": {"choices": []}, "duration_ms": 5})()
    (kept,) = details()
    assert KeptStep.model_validate(kept).outcome == {"reply": {"choices": []}, "duration_ms": 5}

    too_large = HeartbeatDetails()
    keeper(too_large, "tool:3:a", lambda: {"result": "x" * MAX_KEPT_BYTES})()
    assert too_large() == ()
    assert kept_outcome("model:3") is None  # outside an activity nothing is kept


def test_a_tool_calls_file_changes_survive_being_kept() -> None:
    first = TaskWorkspace(None, uuid.uuid4(), WorkspaceQuota())  # type: ignore[arg-type]
    first._pending = {"a.txt": b"\x00bytes\xff", "gone.txt": None}
    changes = first.changes()
    assert changes == {"a.txt": base64.b64encode(b"\x00bytes\xff").decode(), "gone.txt": None}
    retry = TaskWorkspace(None, uuid.uuid4(), WorkspaceQuota())  # type: ignore[arg-type]
    retry.restore(changes)
    assert retry._pending == first._pending
