"""The test session's embedded stack: the real dev supervisor on free loopback ports, in a
temporary data dir, with the scripted model server added as model group `scripted`."""

from __future__ import annotations

import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.devstack import DevStack, StackInfo
from services.processes import Child, ChildSpec, wait_until
from services.settings import Settings
from tests.fakes.script_client import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningStack:
    settings: Settings
    stack: DevStack
    info: StackInfo
    scripted: ScriptedModel
    scripted_child: Child

    def api(self, key: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.info.gateway_url,
            headers={"Authorization": f"Bearer {key or self.info.api_key}"},
            timeout=30,
        )


async def start_stack(base: Path) -> RunningStack:
    agents = base / "agents"
    agents.mkdir(parents=True)
    for spec in [*(ROOT / "agents").glob("*.yaml"), *(ROOT / "tests" / "agents").glob("*.yaml")]:
        shutil.copy(spec, agents / spec.name)

    scripted_port = free_port()
    scripted_child = Child(
        ChildSpec(
            name="scripted-model",
            argv=[sys.executable, "-m", "tests.fakes.scripted_model", "--port", str(scripted_port)],
            log_file=base / "logs" / "scripted-model.log",
        )
    )
    await scripted_child.start()
    scripted = ScriptedModel(f"http://127.0.0.1:{scripted_port}")

    async def scripted_up() -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{scripted.base_url}/health")).status_code == 200

    await wait_until(scripted_up, "scripted model server", 30, scripted_child)

    settings = Settings(
        _env_file=None,
        data_dir=base / "data",
        agents_dir=agents,
        port=free_port(),
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
        embedded_postgres_port=free_port(),
        litellm_url=f"http://127.0.0.1:{free_port()}",
        litellm_config=ROOT / "tests" / "litellm-test-config.yaml",
        default_model_port=free_port(),
        small_model_port=free_port(),
        cancel_wait_seconds=10,
    )
    stack = DevStack(
        settings, extra_env={"AGENTRY_SCRIPTED_MODEL_API_BASE": f"{scripted.base_url}/v1"}
    )
    try:
        info = await stack.start()
    except BaseException:
        await scripted_child.stop()
        raise
    return RunningStack(settings, stack, info, scripted, scripted_child)


async def stop_stack(running: RunningStack) -> None:
    await running.stack.stop()
    await running.scripted.aclose()
    await running.scripted_child.stop()
