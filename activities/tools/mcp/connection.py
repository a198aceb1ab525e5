"""One MCP server's session, kept open for the worker's life and reopened after it breaks.

The SDK's client is an async context manager whose cancel scopes must close in the task that
opened them, so a task of its own holds it open; tool calls from any activity go through it
(MCP sessions take concurrent requests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from activities.tools.mcp.servers import McpServerSpec

if TYPE_CHECKING:  # the SDK is imported on the first connection: ~50 MB a process without MCP
    from mcp import Client
    from mcp_types import CallToolResult, Tool

logger = logging.getLogger(__name__)


class McpUnavailable(RuntimeError):
    """The server could not be reached or its session broke; the next call reconnects."""


class McpConnection:
    def __init__(self, spec: McpServerSpec, token: str | None = None) -> None:
        self.spec = spec
        self._token = token
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._client: Client | None = None

    def _server(self, opened: contextlib.AsyncExitStack) -> Any:
        """What the SDK's Client connects to; an HTTP client of ours is closed with `opened`
        (the SDK closes only the clients it makes itself)."""
        import httpx2
        from mcp.client.stdio import StdioServerParameters
        from mcp.client.streamable_http import streamable_http_client

        spec, auth = self.spec, self.spec.auth
        if spec.url is not None:
            headers = {}
            if auth is not None and auth.header is not None and self._token is not None:
                value = f"{auth.scheme} {self._token}" if auth.scheme else self._token
                headers[auth.header] = value
            timeout = httpx2.Timeout(spec.timeout_seconds, read=max(300.0, spec.timeout_seconds))
            http = httpx2.AsyncClient(headers=headers, timeout=timeout)
            opened.push_async_callback(http.aclose)
            return streamable_http_client(spec.url, http_client=http)
        env = dict(spec.env)  # over the SDK's minimal environment: never the worker's secrets
        if auth is not None and auth.env is not None and self._token is not None:
            env[auth.env] = self._token
        program, *args = spec.resolved_command()
        return StdioServerParameters(command=program, args=args, env=env)

    async def _hold(self, ready: asyncio.Future[Client]) -> None:
        from mcp import Client

        try:
            async with contextlib.AsyncExitStack() as opened:
                server = self._server(opened)
                timeout = self.spec.timeout_seconds
                client = await opened.enter_async_context(
                    Client(server, read_timeout_seconds=timeout)
                )
                ready.set_result(client)
                await self._closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            elif not isinstance(exc, asyncio.CancelledError):
                logger.warning("MCP server %s: session ended (%r)", self.spec.name, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def client(self) -> Client:
        """The open session, opened (again) when there is none."""
        async with self._lock:
            if self._owner is None or self._owner.done() or self._client is None:
                self._closing = asyncio.Event()
                ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
                self._owner = asyncio.create_task(self._hold(ready))
                try:
                    self._client = await asyncio.wait_for(ready, self.spec.timeout_seconds)
                except Exception as exc:
                    await self._drop()
                    raise McpUnavailable(
                        f"MCP server {self.spec.name!r} could not be reached ({_reason(exc)})"
                    ) from exc
            return self._client

    async def list_tools(self) -> list[Tool]:
        client = await self.client()
        tools: list[Tool] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        client = await self.client()
        try:
            return await client.call_tool(
                name, arguments, read_timeout_seconds=self.spec.timeout_seconds
            )
        except Exception as exc:
            # one call's error (an error reply, a timeout) leaves the session to the others;
            # a session that ended is dropped, and the next call opens a new one
            await asyncio.sleep(0)
            async with self._lock:
                if self._client is client and self._owner is not None and self._owner.done():
                    await self._drop()
            raise McpUnavailable(
                f"MCP server {self.spec.name!r} failed the call ({_reason(exc)})"
            ) from exc

    async def _drop(self) -> None:
        self._client = None
        self._closing.set()
        if self._owner is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(self._owner), 5)
            if not self._owner.done():
                self._owner.cancel()
                with contextlib.suppress(BaseException):
                    await self._owner
            self._owner = None

    async def aclose(self) -> None:
        async with self._lock:
            await self._drop()


def _reason(exc: BaseException) -> str:
    """A short reason, from the first leaf of an exception group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"
