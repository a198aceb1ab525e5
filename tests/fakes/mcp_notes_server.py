"""A streamable-HTTP MCP server for the tests, built on the MCP SDK's own server: a notes
store with a tool that writes (`add_note`) and one that reads (`list_notes`), behind a bearer
token, as a hosted MCP server would be. `GET /notes` shows what was written, for assertions;
`GET /health` answers once it is up.

Run: ``python -m tests.fakes.mcp_notes_server --port 18600 --token secret``.
"""

from __future__ import annotations

import argparse

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route


def create_app(token: str) -> Starlette:
    notes: list[str] = []
    server = MCPServer("notes")

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
    def add_note(text: str) -> str:
        """Add a note to the shared notes."""
        notes.append(text)
        return f"Saved note {len(notes)}."

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def list_notes() -> str:
        """List the shared notes, oldest first."""
        return "\n".join(f"{i}. {note}" for i, note in enumerate(notes, 1)) or "No notes."

    mcp_app = server.streamable_http_app(streamable_http_path="/mcp")

    class BearerOnly(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            if request.url.path.startswith("/mcp"):
                if request.headers.get("authorization") != f"Bearer {token}":
                    return JSONResponse({"error": "unauthorized"}, status_code=401)
            return await call_next(request)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def written(request: Request) -> Response:
        return JSONResponse({"notes": notes})

    app = Starlette(
        routes=[Route("/health", health), Route("/notes", written), Mount("/", app=mcp_app)],
        lifespan=mcp_app.router.lifespan_context,
    )
    app.add_middleware(BearerOnly)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.token), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
