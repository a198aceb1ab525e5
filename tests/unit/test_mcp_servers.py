"""The MCP servers file: each mistake named with the file and the field; a command found
beside this Python; results turned into text for the model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp_types import CallToolResult, ImageContent, TextContent

from activities.tools.mcp.servers import McpConfigError, McpServerSpec, load_mcp_servers
from activities.tools.mcp.tools import result_text


def servers_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "servers.yaml"
    path.write_text(text)
    return path


def test_the_shipped_example_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "mcp" / "servers.yaml"
    assert [server.name for server in load_mcp_servers(example)] == ["time"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("- {name: a, command: [x], url: 'http://h/mcp'}", "either `command` (stdio) or `url`"),
        ("- {name: a}", "either `command` (stdio) or `url`"),
        ("- {name: Bad_Name, command: [x]}", "servers[0]: 1 validation error"),
        ("- {name: a, url: 'ftp://h'}", "'ftp://h' is not an http(s) URL"),
        ("- {name: a, url: 'https://u:p@h/mcp'}", "must not carry credentials"),
        ("- {name: a, url: 'http://h/mcp', auth: {env: T}}", "names the `header`"),
        ("- {name: a, command: [x], auth: {header: Authorization}}", "names the `env` variable"),
        ("- {name: a, command: [x], secret: y}", "secret"),
        ("- {name: a, command: [x]}\n- {name: a, url: 'http://h'}", "declared twice"),
    ],
)
def test_a_bad_server_entry_is_named_with_its_file(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = servers_file(tmp_path, f"servers:\n{entry}\n")
    with pytest.raises(McpConfigError) as caught:
        load_mcp_servers(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_file_without_a_servers_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(McpConfigError, match="a `servers:` list"):
        load_mcp_servers(servers_file(tmp_path, "time: {command: [x]}\n"))


def test_a_command_is_found_beside_this_python_first() -> None:
    spec = McpServerSpec(name="time", command=["mcp-server-time", "--local-timezone", "UTC"])
    program, *args = spec.resolved_command()
    assert program == str(Path(sys.executable).parent / "mcp-server-time")
    assert args == ["--local-timezone", "UTC"] and spec.tool_name("now") == "time__now"


def test_results_become_text_for_the_model() -> None:
    text = CallToolResult(content=[TextContent(type="text", text="12:00")])
    image = CallToolResult(content=[ImageContent(type="image", data="aGk=", mime_type="image/png")])
    structured = CallToolResult(content=[], structured_content={"time": "12:00"})
    assert result_text(text) == "12:00"
    assert result_text(image) == "[image/png content not shown]"
    assert result_text(structured) == '{"time": "12:00"}'
