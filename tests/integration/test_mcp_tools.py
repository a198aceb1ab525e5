"""MCP tools on the real stack (tests/mcp-servers.yaml): `mcp-server-time` from PyPI over
stdio and a notes server over streamable HTTP behind a bearer token. A task of scripted-mcp
calls both: the read-only time tools run at once (a repeated call is served from the task's
cache), the notes tool that writes waits for a person (`side_effects: true`), and every call is
in the task's events with its server, as built-in calls are. Bad arguments never reach the
server; a wrong token, a server that is down, and a spec granting a tool no server lists are
named errors."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from activities.tools.mcp.connection import McpUnavailable
from activities.tools.mcp.listing import McpServers
from activities.tools.mcp.servers import McpServerSpec, load_mcp_servers
from services.gateway.app import create_app
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import events, gateway_refusal, submit, wait_for_status
from tests.ports import free_port
from tests.stack import RunningStack

TOKYO_NOON = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}


def notes_server(stack: RunningStack) -> McpServerSpec:
    assert stack.settings.mcp_servers_file is not None
    [notes] = [s for s in load_mcp_servers(stack.settings.mcp_servers_file) if s.name == "notes"]
    return notes


async def written_notes(stack: RunningStack) -> list[str]:
    url = notes_server(stack).url
    assert url is not None
    async with httpx.AsyncClient() as http:
        notes: list[str] = (await http.get(url.removesuffix("/mcp") + "/notes")).json()["notes"]
    return notes


async def pending_approval(api: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    for _ in range(600):
        items = (await api.get("/v1/approvals", params={"task_id": task_id})).json()["items"]
        if items:
            approval: dict[str, Any] = items[0]
            return approval
        await asyncio.sleep(0.1)
    raise AssertionError("no approval was requested")


async def test_a_task_calls_tools_of_two_mcp_servers_each_audited(stack: RunningStack) -> None:
    note = f"note {uuid.uuid4().hex[:8]}"
    marker = await stack.scripted.script(
        unique_key("mcp"),
        [
            reply_tool_calls([("time__convert_time", TOKYO_NOON)]),
            reply_tool_calls([("time__convert_time", {"time": 12})]),  # wrong arguments
            reply_tool_calls([("time__convert_time", TOKYO_NOON)]),  # the first call again
            reply_tool_calls([("notes__add_note", {"text": note})]),
            reply_tool_calls([("notes__list_notes", {})]),
            reply_text("Noon in UTC is 21:00 in Tokyo; noted."),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-mcp", f"Convert and note it. {marker}")
        approval = await pending_approval(api, task["id"])
        before = await written_notes(stack)
        decided = await api.post(
            f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}
        )
        assert decided.status_code == 200, decided.text
        done = await wait_for_status(api, task["id"])
        calls = [e["data"] for e in await events(api, task["id"]) if e["type"] == "tool_call"]
        decided_ones = {"task_id": task["id"], "status": "approved"}
        approvals = (await api.get("/v1/approvals", params=decided_ones)).json()

    assert done["status"] == "succeeded", done
    assert approval["tool"] == "notes__add_note" and approval["arguments"] == {"text": note}
    assert len(approvals["items"]) == 1  # the read-only time tools never waited
    assert note not in before and note in await written_notes(stack)

    assert [(c["name"], c.get("mcp_server")) for c in calls] == [
        ("time__convert_time", "time"),
        ("time__convert_time", "time"),
        ("time__convert_time", "time"),
        ("notes__add_note", "notes"),
        ("notes__list_notes", "notes"),
    ]
    first, wrong, again, added, listed = calls
    assert '"datetime": "' in first["result"] and "T21:00:00+09:00" in first["result"]
    assert not first.get("cached") and again.get("cached") and again["result"] == first["result"]
    assert (
        wrong["is_error"] and "invalid arguments for tool 'time__convert_time'" in wrong["result"]
    )
    assert "time: 12 is not of type 'string'" in wrong["result"]
    assert added["arguments"] == {"text": note} and added["result"].startswith("Saved note")
    assert note in listed["result"] and not listed["is_error"]


async def test_a_wrong_token_or_a_server_that_is_down_is_named(stack: RunningStack) -> None:
    notes = notes_server(stack)
    with pytest.raises(McpUnavailable, match="MCP server 'notes' could not be reached"):
        await McpServers.open([notes], {"notes": "not-the-token"})
    down = McpServerSpec(name="down", url="http://127.0.0.1:9/mcp", timeout_seconds=5)
    with pytest.raises(McpUnavailable, match="MCP server 'down' could not be reached"):
        await McpServers.open([down])
    missing = McpServerSpec(name="nothing", command=["no-such-mcp-server"], timeout_seconds=5)
    with pytest.raises(McpUnavailable, match="MCP server 'nothing' could not be reached"):
        await McpServers.open([missing])


async def test_a_spec_granting_a_tool_no_server_lists_stops_the_gateway(
    stack: RunningStack, tmp_path: Path
) -> None:
    spec = tmp_path / "grants.yaml"
    spec.write_text("name: grants\nmodel: scripted\ntools: [time__teleport]\n")
    refusal = await gateway_refusal(stack, tmp_path)
    assert str(spec) in refusal and "unknown tools ['time__teleport']" in refusal


async def test_a_server_that_is_down_at_start_leaves_the_rest_running_and_joins_later(
    stack: RunningStack, tmp_path: Path
) -> None:
    port, token = free_port(), "later-token"
    servers = tmp_path / "servers.yaml"
    servers.write_text(
        "servers:\n  - name: time\n    command: [mcp-server-time]\n"
        f"  - name: later\n    url: http://127.0.0.1:{port}/mcp\n"
        "    auth: {header: Authorization}\n    timeout_seconds: 3\n"
    )
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "uses-later.yaml").write_text(
        "name: uses-later\nmodel: scripted\ntools: [later__add_note, time__convert_time]\n"
    )
    settings = stack.settings.model_copy(
        update={
            "agents_dir": agents,
            "mcp_servers_file": servers,
            "mcp_server_tokens": {"later": SecretStr(token)},
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # the gateway starts without `later`
        names = app.state.tool_catalog.names()
        assert "time__convert_time" in names and "later__add_note" not in names
        assert app.state.agent_catalog.config("uses-later") is not None

    [spec] = [s for s in load_mcp_servers(servers) if s.name == "later"]
    opened = await McpServers.open([spec], {"later": token}, required=False)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.mcp_notes_server", "--port", str(port),
        "--token", token,
    )  # fmt: skip
    try:
        assert opened.tools == [] and opened.unchecked_prefixes() == ["later__"]
        found: list[str] = []
        for _ in range(100):  # until the server is up and answers
            found += [tool.name for tool in await opened.reconnect()]
            if found:
                break
            await asyncio.sleep(0.2)
        assert sorted(found) == ["later__add_note", "later__list_notes"]
        assert opened.unreachable == [] and opened.unchecked_prefixes() == []
    finally:
        await opened.aclose()
        server.terminate()
        await server.wait()
