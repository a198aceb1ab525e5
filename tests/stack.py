"""The test session's embedded stack: the real dev supervisor on free loopback ports, in a
temporary data dir, with the scripted model server added as model group `scripted`."""

from __future__ import annotations

import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from activities.db.engine import create_engine, create_session_factory
from services.devstack.processes import Child, ChildSpec, wait_until
from services.devstack.supervisor import DevStack, StackInfo
from services.key_service import create_api_key
from services.settings import Settings
from tests.fakes.script_client import ScriptedModel
from tests.fakes.webhook_receiver import WEBHOOK_SECRET
from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunningStack:
    settings: Settings
    stack: DevStack
    info: StackInfo
    scripted: ScriptedModel
    helpers: list[Child]  # the scripted model server, the webhook receiver, the MCP server
    webhooks_url: str
    base: Path  # everything of this stack: data dir, logs
    issued_keys: list[str] = field(default_factory=list)  # by create_key, for the secret scan

    async def create_key(self, role: str, name: str, tenant: str = "local-dev") -> str:
        """A new API key in this stack's database (the dev key's tenant by default)."""
        engine = create_engine(self.settings.resolved_database_url, pool_size=1)
        try:
            key = await create_api_key(create_session_factory(engine), tenant, role=role, name=name)
            self.issued_keys.append(key)
            return key
        finally:
            await engine.dispose()

    def api(self, key: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.info.gateway_url,
            headers={"Authorization": f"Bearer {key or self.info.api_key}"},
            timeout=30,
        )


async def start_stack(
    base: Path, extra_agents: Path | None = None, **overrides: Any
) -> RunningStack:
    """`overrides` are Settings fields, e.g. `worker_max_cached_workflows=0` (bench/) or
    `pools_file`; `extra_agents` is a folder of more agent specs (demo/)."""
    agents = base / "agents"
    agents.mkdir(parents=True)
    folders = [ROOT / "agents", ROOT / "tests" / "agents"]
    if extra_agents is not None:
        folders.append(extra_agents)
    for spec in (spec for folder in folders for spec in folder.glob("*.yaml")):
        shutil.copy(spec, agents / spec.name)
    for folder in folders:  # the skills of agents/skills and tests/agents/skills, together
        if (folder / "skills").is_dir():
            shutil.copytree(folder / "skills", agents / "skills", dirs_exist_ok=True)

    scripted_port, webhook_port, notes_port = free_port(), free_port(), free_port()
    notes_token = f"mcp-notes-{secrets.token_hex(12)}"
    helpers = [
        await _start_helper(base, "scripted-model", "tests.fakes.scripted_model", scripted_port),
        await _start_helper(base, "webhook-receiver", "tests.fakes.webhook_receiver", webhook_port),
        await _start_helper(
            base, "mcp-notes", "tests.fakes.mcp_notes_server", notes_port, "--token", notes_token
        ),
    ]
    mcp_servers = base / "mcp-servers.yaml"
    mcp_servers.write_text(
        (ROOT / "tests" / "mcp-servers.yaml").read_text().replace("NOTES_PORT", str(notes_port))
    )
    scripted = ScriptedModel(f"http://127.0.0.1:{scripted_port}")

    fields: dict[str, Any] = {
        "data_dir": base / "data",
        "agents_dir": agents,
        "pools_file": ROOT / "tests" / "pools.yaml",
        "port": free_port(),
        "temporal_address": f"127.0.0.1:{free_port()}",
        "temporal_ui_port": free_port(),
        "embedded_postgres_port": free_port(),
        "litellm_url": f"http://127.0.0.1:{free_port()}",
        "litellm_config": ROOT / "tests" / "litellm-test-config.yaml",
        "default_model_port": free_port(),
        # the fleet's workers serve /metrics on this port and the next ones
        "worker_metrics_port": free_port(block=8),
        "small_model_port": free_port(),
        "cancel_wait_seconds": 10,
        "approval_webhook_url": f"http://127.0.0.1:{webhook_port}/hook",
        "approval_webhook_secret": WEBHOOK_SECRET,
        "webhook_allow_private_targets": True,  # the receiver listens on loopback
        "approval_resignal_seconds": 1,
        "pool_sample_seconds": 5,  # the console's pool charts fill in within the session
        "retention_days": 3650,
        # a stdio server from PyPI (mcp-server-time) and the notes server over HTTP with a token
        "mcp_servers_file": mcp_servers,
        "mcp_server_tokens": {
            "notes": notes_token
        },  # the gateway runs its retention job; nothing here is that old
        # distinctive secrets, for the scan after the suite (tests/secret_scan.py)
        "litellm_key": f"sk-litellm-{secrets.token_hex(12)}",
        "model_server_key": f"sk-model-server-{secrets.token_hex(12)}",
        # /metrics of the gateway and the workers want it, as in production
        "metrics_token": f"metrics-{secrets.token_hex(12)}",
        # the scripted server tokenizes like llama.cpp (/apply-template, /tokenize)
        "model_server_urls": {
            name: scripted.base_url for name in ("scripted", "scripted-admission", "scripted-small")
        },
        # an operator's own bigger model (services/devstack/large_model.py): the same server
        "large_model_api_base": scripted.api_base,
        "large_model": "scripted-large",
        "large_model_api_key": f"sk-large-model-{secrets.token_hex(12)}",
        "model_metrics_urls": {
            "scripted-admission": f"{scripted.base_url}/metrics?model=scripted-admission"
        },
    }
    settings = Settings(_env_file=None, **{**fields, **overrides})
    stack = DevStack(
        settings, extra_env={"AGENTRY_SCRIPTED_MODEL_API_BASE": f"{scripted.base_url}/v1"}
    )
    try:
        info = await stack.start()
    except BaseException:
        for helper in helpers:
            await helper.stop()
        raise
    webhooks = f"http://127.0.0.1:{webhook_port}"
    return RunningStack(stack.settings, stack, info, scripted, helpers, webhooks, base)


async def stop_stack(running: RunningStack) -> None:
    await running.stack.stop()
    await running.scripted.aclose()
    for helper in running.helpers:
        await helper.stop()


async def _start_helper(base: Path, name: str, module: str, port: int, *args: str) -> Child:
    """A fake peer of the stack (model server, webhook receiver, MCP server) as a child
    process."""
    child = Child(
        ChildSpec(
            name=name,
            argv=[sys.executable, "-m", module, "--port", str(port), *args],
            log_file=base / "logs" / f"{name}.log",
        )
    )
    await child.start()

    async def up() -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200

    await wait_until(up, name, 30, child)
    return child
