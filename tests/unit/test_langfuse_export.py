"""The Langfuse export's ids, its off switch, and that a broken or unreachable Langfuse costs a
task nothing (the whole path against a capture endpoint: tests/integration/)."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langfuse import Langfuse

from activities.db.models import Task
from activities.langfuse_export import observations
from activities.langfuse_export.emitter import LangfuseEmitter
from activities.langfuse_export.exporter import LangfuseExport
from activities.langfuse_export.families import Family
from activities.langfuse_export.ids import (
    delegation_observation_id,
    observation_id,
    task_observation_id,
    trace_id,
)
from activities.tools.registry import default_registry
from services.settings import Settings
from tests.unit.test_layout import ROOT


def test_a_tasks_trace_id_is_langfuses_own_seeded_id_of_the_task_id() -> None:
    task = "3f1c1a4e-8a0e-4a36-9a51-2f3f0f8b6b11"
    assert trace_id(task) == Langfuse.create_trace_id(seed=task)
    assert trace_id(task) == trace_id(str(task))  # a retry, a replay, another worker
    assert trace_id(task) != trace_id("3f1c1a4e-8a0e-4a36-9a51-2f3f0f8b6b12")


def test_observation_ids_derive_from_the_task_and_its_step_key() -> None:
    task, other = "task-a", "task-b"
    ids = [observation_id(task, key) for key in ("model:0", "model:1", "tool:0:call-0-0")]
    assert len(set(ids)) == 3 and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert observation_id(task, "model:0") == observation_id(task, "model:0")
    assert observation_id(task, "model:0") != observation_id(other, "model:0")
    assert task_observation_id(task) == observation_id(task, "task")
    # the delegating call is named after the child it started: the child can name its parent
    assert delegation_observation_id(other) not in {task_observation_id(other), *ids}


def test_a_finished_task_is_one_observation_with_its_output_and_times() -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    row = Task(
        id="3f1c1a4e-8a0e-4a36-9a51-2f3f0f8b6b11",
        agent="assistant",
        input="What is 6*7?",
        output="42",
        status="succeeded",
        created_at=created,
        finished_at=created + timedelta(seconds=2),
        iterations=2,
        llm_calls=2,
        tool_calls=1,
        cost_usd=0.5,
    )
    observation = observations.task(row, now_ns=0)
    assert observation.id == task_observation_id(str(row.id)) and observation.is_task
    assert (observation.input, observation.output) == ("What is 6*7?", "42")
    assert observation.end_ns - observation.start_ns == 2_000_000_000
    assert observation.metadata["cost_usd"] == 0.5


def test_without_langfuse_settings_nothing_of_langfuse_is_loaded() -> None:
    code = (
        "import json, sys\n"
        "from activities.tools.registry import default_registry\n"
        "from services.settings import Settings\n"
        "import services.worker.process\n"
        "from services.worker.trace_export import trace_export\n"
        "export = trace_export(Settings(_env_file=None), None, default_registry())\n"
        "print(json.dumps([type(export).__name__,"
        " sorted(m for m in sys.modules if 'langfuse' in m)]))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(shown.stdout) == ["TraceExport", []]
    for missing in ("langfuse_public_key", "langfuse_secret_key", "langfuse_host"):
        keys = {"langfuse_public_key": "pk", "langfuse_secret_key": "sk", "langfuse_host": "h"}
        keys.pop(missing)
        assert not Settings(_env_file=None, **keys).langfuse_enabled


def test_an_unreachable_langfuse_neither_raises_nor_holds_the_sender() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emitter = LangfuseEmitter("pk-unreachable", "sk-unreachable", f"http://127.0.0.1:{port}")
    task = "a-task"
    step = observations.Observation(
        task_id=task, id=observation_id(task, "model:0"), name="model turn 0",
        kind="generation", start_ns=time.time_ns(), end_ns=time.time_ns(), model="m",
    )  # fmt: skip
    family = Family(task, trace_id(task), "assistant", delegated_by=None)
    started = time.monotonic()
    for _ in range(100):
        emitter.emit(step, family, task_observation_id(task))
    assert time.monotonic() - started < 1.0  # queued for the SDK's thread, not sent here
    emitter.shutdown()  # the failed export is logged and dropped


class _Broken:
    """A session factory whose database is gone."""

    def __call__(self) -> Any:
        raise RuntimeError("the database is gone")


class _Emitter:
    shut = False

    def shutdown(self) -> None:
        self.shut = True


async def test_a_failing_export_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    emitter = _Emitter()
    export = LangfuseExport(emitter, _Broken(), default_registry())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, "activities.langfuse_export.exporter"):
        export.task_finished("a-task")  # returns at once; the failure happens in the background
        export.approval_ended("7c5d7b6e-0000-4000-8000-000000000000")
        await export.aclose()
    assert emitter.shut
    assert [r.getMessage() for r in caplog.records] == [
        "Langfuse export: a step was not exported"
    ] * 2
