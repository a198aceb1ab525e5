"""MCP tools: the tools of MCP servers declared in a config file (stdio or streamable HTTP),
offered to agents beside the built-in ones under the name `<server>__<tool>`."""
