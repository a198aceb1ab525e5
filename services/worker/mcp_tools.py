"""A worker's MCP tools: the declared servers opened at start and their tools put in the
registry. A server that does not answer is tried again every `RECONNECT_SECONDS`, and its tools
join when it does: meanwhile a turn of an agent that needs them fails its attempt and is
retried (workflows/policies.py: about two minutes), while every other agent runs as usual."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from activities.tools.mcp.listing import McpServers
from activities.tools.mcp.tools import McpTool
from activities.tools.registry import ToolRegistry
from services.mcp_servers import open_mcp_servers
from services.settings import Settings

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 15.0


class WorkerMcpTools:
    def __init__(self, servers: McpServers, registry: ToolRegistry) -> None:
        self.servers = servers
        self._registry = registry
        self._retrying: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, settings: Settings, registry: ToolRegistry) -> WorkerMcpTools:
        tools = cls(await open_mcp_servers(settings), registry)
        for listed in tools.servers.tools:
            registry.include(McpTool(listed))
        if tools.servers.unreachable:
            tools._retrying = asyncio.create_task(tools._reconnect())
        return tools

    async def _reconnect(self) -> None:
        while self.servers.unreachable:
            await asyncio.sleep(RECONNECT_SECONDS)
            for listed in await self.servers.reconnect():
                if listed.name not in self._registry:
                    self._registry.include(McpTool(listed))

    async def stop(self) -> None:
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
        await self.servers.aclose()
