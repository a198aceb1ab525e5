"""The MCP servers of settings (`mcp_servers_file`, `mcp_server_tokens`) opened for a process:
the gateway lists their tools to check agent specs, a worker keeps them open to call them."""

from __future__ import annotations

import logging

from activities.tools.mcp.listing import McpServers
from activities.tools.mcp.servers import McpConfigError, load_mcp_servers
from services.settings import Settings

logger = logging.getLogger(__name__)


async def open_mcp_servers(settings: Settings) -> McpServers:
    """Every declared server connected and its tools listed (none without a servers file);
    a server that cannot be reached is left in `unreachable` (logged), for the caller to try
    again. McpConfigError for a bad file or a server whose `auth:` has no token in settings."""
    if settings.mcp_servers_file is None:
        return McpServers([], [])
    servers = load_mcp_servers(settings.mcp_servers_file)
    tokens = {name: token.get_secret_value() for name, token in settings.mcp_server_tokens.items()}
    for server in servers:
        if server.auth is not None and server.name not in tokens:
            raise McpConfigError(
                f"{settings.mcp_servers_file}: server {server.name!r} has `auth:` but "
                "AGENTRY_MCP_SERVER_TOKENS has no token for it"
            )
    strangers = sorted(set(tokens) - {server.name for server in servers})
    if strangers:
        logger.warning("MCP tokens for servers that are not declared: %s", strangers)
    opened = await McpServers.open(servers, tokens, required=False)
    logger.info("MCP tools: %s", ", ".join(tool.name for tool in opened.tools) or "(none)")
    return opened
