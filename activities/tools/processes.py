"""Tool calls in child processes, each under limits it cannot escape.

A thread cannot be stopped: a tool that loops on model-written input (`round(1, -10**300)`)
would hold a worker slot forever, and its retries would take more. So every plain-function tool
runs in a child process of the tool process server (process_server.py, started by the worker on
first use), with a CPU-time and an address-space limit set inside the child and a wall-clock
limit after which it is killed. A cancelled activity kills its child too. What goes wrong
becomes a `ToolError`, which the model reads as the tool's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import pickle
import sys
from dataclasses import dataclass
from typing import Any

from activities.tools.context import ToolContext
from activities.tools.errors import ToolError
from activities.tools.process_server import HEADER

SERVER_MODULE = "activities.tools.process_server"
PRELOADED = ("activities.tools.builtin",)
SERVER_GRACE_SECONDS = 10.0  # beyond a call's wall limit, before the server itself is doubted
# all a tool's process inherits of the worker's environment: never its settings or secrets
INHERITED_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH")


@dataclass(frozen=True)
class ToolLimits:
    """Per call; the defaults suit the built-in tools."""

    wall_seconds: float = 60.0  # below the activity's start-to-close timeout (policies.py)
    cpu_seconds: int = 20
    memory_mb: int = 512  # address space a call may add to what the server holds


def tool_environment() -> dict[str, str]:
    """The worker's environment without what a tool has no business reading (database URL,
    LiteLLM and webhook keys, every other AGENTRY_* setting)."""
    return {name: os.environ[name] for name in INHERITED_ENVIRONMENT if name in os.environ}


class ToolCrashed(Exception):
    """The tool raised something other than a `ToolError` (its type name is the message)."""


class ToolProcesses:
    """The worker's side of the tool process server: sends calls, waits for their answers."""

    def __init__(self, limits: ToolLimits | None = None) -> None:
        self.limits = limits or ToolLimits()
        self._server: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[tuple[str, str]]] = {}
        self._ids = itertools.count()
        self._starting = asyncio.Lock()

    async def run(
        self, func: Any, kwargs: dict[str, Any], context: ToolContext | None = None
    ) -> str:
        server = await self._running_server()
        call_id = str(next(self._ids))
        answer = asyncio.get_running_loop().create_future()
        self._pending[call_id] = answer
        request = ("run", call_id, func.__module__, func.__qualname__, kwargs, context, self.limits)
        try:
            self._send(server, request)
            kind, text = await asyncio.wait_for(
                answer, self.limits.wall_seconds + SERVER_GRACE_SECONDS
            )
        except (asyncio.CancelledError, TimeoutError):
            with contextlib.suppress(ConnectionError, RuntimeError):
                self._send(server, ("cancel", call_id))
            raise
        finally:
            self._pending.pop(call_id, None)
        return self._outcome(kind, text)

    async def close(self) -> None:
        if self._server is not None and self._server.returncode is None:
            assert self._server.stdin is not None
            self._server.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait(), 5)
            if self._server.returncode is None:
                self._server.kill()
                await self._server.wait()
        if self._reader is not None:
            self._reader.cancel()

    def _outcome(self, kind: str, text: str) -> str:
        if kind == "ok":
            return text
        if kind == "tool-error":
            raise ToolError(text)
        if kind == "crash":
            raise ToolCrashed(text)
        if kind == "timeout":
            raise ToolError(
                f"the tool ran longer than {self.limits.wall_seconds:g} seconds and was stopped"
            )
        if kind == "cpu":
            raise ToolError(
                f"the tool used more than {self.limits.cpu_seconds} seconds of CPU and was stopped"
            )
        if kind == "lost":
            raise ToolError("the tool process server stopped before answering; try again")
        raise ToolError(f"the tool's process ended without an answer (exit code {text})")

    def _send(self, server: asyncio.subprocess.Process, request: tuple[Any, ...]) -> None:
        assert server.stdin is not None
        body = pickle.dumps(request)
        server.stdin.write(HEADER.pack(len(body)) + body)

    async def _running_server(self) -> asyncio.subprocess.Process:
        async with self._starting:
            if self._server is None or self._server.returncode is not None:
                self._server = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", SERVER_MODULE, *PRELOADED,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    env=tool_environment(),
                )  # fmt: skip
                self._reader = asyncio.create_task(self._read_answers(self._server))
            return self._server

    async def _read_answers(self, server: asyncio.subprocess.Process) -> None:
        assert server.stdout is not None
        try:
            while True:
                head = await server.stdout.readexactly(HEADER.size)
                body = await server.stdout.readexactly(HEADER.unpack(head)[0])
                call_id, kind, text = json.loads(body)
                answer = self._pending.get(call_id)
                if answer is not None and not answer.done():
                    answer.set_result((kind, text))
        except asyncio.IncompleteReadError:
            pass  # the server ended; calls still waiting fail, the next call starts a new one
        finally:
            for answer in self._pending.values():
                if not answer.done():
                    answer.set_result(("lost", ""))
