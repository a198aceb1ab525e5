"""`make run` twice: the second run finds the first one's tasks and key, and stopping leaves
nothing listening. Runs the supervisor with only Postgres, Temporal, worker and gateway."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import httpx

from services.devstack.supervisor import DevStack
from services.settings import Settings
from tests.stack import free_port


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_second_start_finds_the_first_runs_tasks_and_stop_frees_every_port(
    stack_dirs: Callable[[str], Path],
) -> None:
    temporal_port = free_port()
    settings = Settings(
        _env_file=None,
        data_dir=stack_dirs("restart"),
        port=free_port(),
        temporal_address=f"127.0.0.1:{temporal_port}",
        temporal_ui_port=free_port(),
        embedded_postgres_port=free_port(),
        embedded_models=False,
        embedded_litellm=False,
        litellm_url=f"http://127.0.0.1:{free_port()}",  # nothing there: tasks just wait
        worker_metrics_port=free_port(block=8),
    )
    ports = [
        settings.port,
        temporal_port,
        settings.temporal_ui_port,
        settings.embedded_postgres_port,
        settings.worker_metrics_port,  # the one worker's /metrics
    ]

    first = DevStack(settings)
    info = await first.start()
    try:
        async with httpx.AsyncClient(
            base_url=info.gateway_url, headers={"Authorization": f"Bearer {info.api_key}"}
        ) as api:
            created = await api.post("/v1/tasks", json={"agent": "assistant", "input": "hi"})
            assert created.status_code == 201, created.text
    finally:
        await first.stop()
    assert [p for p in ports if _listening(p)] == []

    second = DevStack(settings)
    again = await second.start()
    try:
        assert again.api_key == info.api_key
        async with httpx.AsyncClient(
            base_url=again.gateway_url, headers={"Authorization": f"Bearer {again.api_key}"}
        ) as api:
            found = await api.get(f"/v1/tasks/{created.json()['id']}")
        assert found.status_code == 200 and found.json()["input"] == "hi"
    finally:
        await second.stop()
    assert [p for p in ports if _listening(p)] == []
