"""The MCP servers file: which servers a deployment's agents may use tools of, how to reach
each (a command over stdio, or a streamable-HTTP URL), how it authenticates, and what is known
of its tools that the server's own hints cannot be trusted to say (side effects, caching)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from activities.http_urls import checked_http_url

SERVER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
SEPARATOR = "__"  # between the server's name and its tool's: `time__convert_time`


class McpConfigError(ValueError):
    """A servers file that cannot be used; the message names the file and the field."""


class McpAuth(BaseModel):
    """Where the server's token (settings `mcp_server_tokens[<server>]`, never in this file)
    goes: an HTTP header for a URL, an environment variable for a command."""

    model_config = ConfigDict(extra="forbid")

    header: str | None = None  # e.g. Authorization
    scheme: str | None = "Bearer"  # the header's value is "<scheme> <token>"; null: the token
    env: str | None = None  # e.g. NOTES_TOKEN


class McpServerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    command: list[str] | None = Field(default=None, min_length=1)  # stdio: the server process
    env: dict[str, str] = Field(default_factory=dict)  # stdio: its environment, besides PATH/HOME
    url: str | None = None  # streamable HTTP: the endpoint, e.g. https://host/mcp
    auth: McpAuth | None = None
    tools: list[str] | None = None  # offer only these of its tools (default: all)
    # tools that change nothing (a shadow run calls them; `side_effects: true` approvals skip
    # them); every other tool of the server counts as having side effects
    read_only: list[str] = Field(default_factory=list)
    # tools whose result depends on their arguments alone: a task's repeat call reuses it
    cache: list[str] = Field(default_factory=list)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)  # per call, and to connect

    @field_validator("name")
    @classmethod
    def _name_is_short_slug(cls, value: str) -> str:
        if not SERVER_NAME.match(value):
            raise ValueError("must be lowercase letters, digits or '-', at most 32")
        return value

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return checked_http_url(value, "`auth:` sends the server's token")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either `command` (stdio) or `url` (streamable HTTP)")
        if self.auth is not None:
            if self.url is not None and self.auth.header is None:
                raise ValueError("auth of a URL server names the `header` its token goes in")
            if self.command is not None and self.auth.env is None:
                raise ValueError("auth of a command server names the `env` variable of its token")
        return self

    def tool_name(self, tool: str) -> str:
        return f"{self.name}{SEPARATOR}{tool}"

    def resolved_command(self) -> list[str]:
        """The command with its program found: beside this Python first (a server installed
        in the same virtual environment), then on PATH."""
        assert self.command is not None
        program = self.command[0]
        if "/" not in program:
            beside = Path(sys.executable).parent / program
            found = str(beside) if beside.exists() else shutil.which(program)
            program = found or program
        return [program, *self.command[1:]]


def load_mcp_servers(path: Path) -> list[McpServerSpec]:
    """The servers of the file at `path`; McpConfigError naming the file and the field."""
    try:
        data: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise McpConfigError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("servers"), list):
        raise McpConfigError(f"{path}: expected a mapping with a `servers:` list")
    servers: list[McpServerSpec] = []
    for index, entry in enumerate(data["servers"]):
        try:
            server = McpServerSpec.model_validate(entry)
        except ValidationError as exc:
            raise McpConfigError(f"{path}: servers[{index}]: {exc}") from exc
        if server.name in {s.name for s in servers}:
            raise McpConfigError(f"{path}: server {server.name!r} is declared twice")
        servers.append(server)
    return servers
