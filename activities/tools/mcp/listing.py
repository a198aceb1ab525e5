"""The declared MCP servers opened and their tools listed: what the gateway reads to check
agent specs (name, schema, side effects) and what a worker turns into callable tools. Loads no
tool implementation, so the gateway may use it."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from activities.tools.catalog import clean_schema
from activities.tools.mcp.connection import McpConnection, McpUnavailable
from activities.tools.mcp.servers import McpServerSpec

logger = logging.getLogger(__name__)

_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what the OpenAI tools API accepts


@dataclass(frozen=True)
class ListedMcpTool:
    """One tool of one server, as agents are offered it."""

    connection: McpConnection
    remote_name: str  # the server's name for it
    name: str  # `<server>__<tool>`
    description: str
    parameters_schema: dict[str, Any]
    side_effects: bool  # unless the servers file lists it in `read_only`
    idempotent: bool  # listed in `cache`

    @property
    def mcp_server(self) -> str:
        return self.connection.spec.name


class McpServers:
    """The servers' connections and their tools, opened once per process."""

    def __init__(self, connections: Sequence[McpConnection], tools: Sequence[ListedMcpTool]):
        self.connections = list(connections)
        self.tools = list(tools)
        self.unreachable: list[McpConnection] = []  # not listed yet: see `reconnect`

    @classmethod
    async def open(
        cls,
        servers: Sequence[McpServerSpec],
        tokens: Mapping[str, str] | None = None,
        required: bool = True,
    ) -> McpServers:
        """Connect to each server and list its tools. McpUnavailable names a server that
        cannot be reached, or whose file entry names a tool it does not list; unless not
        `required`: then such a server is left in `unreachable`, and one server's outage
        never stops a process whose other agents do not need it."""
        tokens = tokens or {}
        connections = [McpConnection(spec, tokens.get(spec.name)) for spec in servers]
        opened = cls(connections, [])
        try:
            for connection in connections:
                try:
                    opened.tools += await _tools_of(connection)
                except McpUnavailable as exc:
                    if required:
                        raise
                    logger.error("%s; its tools are missing until it answers", exc)
                    opened.unreachable.append(connection)
        except BaseException:
            await opened.aclose()
            raise
        return opened

    async def reconnect(self) -> list[ListedMcpTool]:
        """Try the unreachable servers again; the tools of those that answer now."""
        found: list[ListedMcpTool] = []
        for connection in list(self.unreachable):
            try:
                tools = await _tools_of(connection)
            except McpUnavailable:
                continue
            logger.info("MCP server %s answers again: %d tools", connection.spec.name, len(tools))
            self.unreachable.remove(connection)
            self.tools += tools
            found += tools
        return found

    def unchecked_prefixes(self) -> list[str]:
        """`<server>__` of each unreachable server: agents may name such tools unchecked."""
        return [connection.spec.tool_name("") for connection in self.unreachable]

    async def aclose(self) -> None:
        for connection in self.connections:
            await connection.aclose()


async def _tools_of(connection: McpConnection) -> list[ListedMcpTool]:
    spec = connection.spec
    listed = await connection.list_tools()
    names = [tool.name for tool in listed]
    for field, wanted in (("tools", spec.tools or []), ("read_only", spec.read_only),
                          ("cache", spec.cache)):  # fmt: skip
        missing = [name for name in wanted if name not in names]
        if missing:
            raise McpUnavailable(
                f"MCP server {spec.name!r}: {field} names {missing}, which it does not list; "
                f"it lists {names}"
            )
    tools = []
    for tool in listed:
        name = spec.tool_name(tool.name)
        if spec.tools is not None and tool.name not in spec.tools:
            continue
        if not _TOOL_NAME.fullmatch(name):
            logger.warning("MCP server %s: tool %r skipped (name unusable)", spec.name, tool.name)
            continue
        try:
            schema = clean_schema(dict(tool.input_schema))
        except (KeyError, TypeError) as exc:  # a dangling or recursive $ref
            logger.warning("MCP server %s: tool %r skipped (schema: %r)", spec.name, tool.name, exc)
            continue
        tools.append(
            ListedMcpTool(
                connection=connection,
                remote_name=tool.name,
                name=name,
                description=" ".join((tool.description or tool.name).split()),
                parameters_schema=schema,
                side_effects=tool.name not in spec.read_only,
                idempotent=tool.name in spec.cache,
            )
        )
    return tools
