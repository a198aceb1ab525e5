"""MCP tools as registry tools: each tool an MCP server lists (listing.py) becomes a `Tool`
named `<server>__<tool>`, checked against the server's input schema before the call, its
result turned into text for the model."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from activities.tools.catalog import ToolSchema
from activities.tools.errors import ToolArgumentError, ToolError
from activities.tools.mcp.connection import McpUnavailable
from activities.tools.mcp.listing import ListedMcpTool
from activities.tools.processes import ToolProcesses
from activities.tools.tool import Tool

if TYPE_CHECKING:
    from mcp_types import CallToolResult


class McpTool(Tool):
    """A tool of an MCP server. Not built from a Python function: its schema is the server's,
    and a call is a `tools/call` on the server's session."""

    def __init__(self, listed: ListedMcpTool) -> None:
        self.connection = listed.connection
        self.remote_name = listed.remote_name
        self.mcp_server = listed.mcp_server
        self.name = listed.name
        self.description = listed.description
        self.parameters_schema = listed.parameters_schema
        self._schema = ToolSchema(self.name, self.description, self.parameters_schema)
        self.cost_usd = 0.0
        self.quick = False  # a network or process round trip: a regular activity
        self.side_effects = listed.side_effects
        self.idempotent = listed.idempotent
        self.func = self.invoke

    def unknown_arguments(self, arguments: dict[str, Any]) -> list[str]:
        if self.parameters_schema.get("additionalProperties", True) is not False:
            return []
        return self._schema.unknown_arguments(arguments)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        problems = self._schema.problems(arguments)
        if problems:
            raise ToolArgumentError(
                f"invalid arguments for tool {self.name!r}: " + "; ".join(problems)
            )
        return dict(arguments)

    def normalised(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return dict(arguments)

    @property
    def runs_in_a_process(self) -> bool:
        return False

    async def invoke(
        self, arguments: dict[str, Any], processes: ToolProcesses | None = None
    ) -> str:
        """The call's text; a result the server marks as an error, or a server that cannot
        be reached, is a ToolError the model reads."""
        kwargs = self.validate(arguments)
        try:
            result = await self.connection.call_tool(self.remote_name, kwargs)
        except McpUnavailable as exc:
            raise ToolError(str(exc)) from None
        text = result_text(result)
        if result.is_error:
            raise ToolError(text or f"{self.name} failed")
        return text


def result_text(result: CallToolResult) -> str:
    """Text blocks as they are, other blocks named; the structured result when there is no
    text."""
    from mcp_types import TextContent  # loaded already: `result` came from the SDK

    parts = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append(block.text)
        else:
            kind = getattr(block, "mime_type", None) or getattr(block, "type", "content")
            parts.append(f"[{kind} content not shown]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)
