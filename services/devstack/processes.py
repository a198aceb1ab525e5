"""Child processes of the dev supervisor: started in their own session, logged to a file,
stopped politely then firmly, and killed by the kernel if the supervisor itself dies."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

VENV_BIN = Path(sys.executable).parent
"""Where this virtualenv's executables are (temporal, litellm)."""

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the supervisor goes away."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    log_file: Path
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 15.0


class Child:
    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def start(self) -> None:
        spec = self.spec
        spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = spec.log_file.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **spec.env},
                start_new_session=True,
                user=spec.user,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        logger.info("started %s (pid %s)", spec.name, self.process.pid)

    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self) -> None:
        if not self.running():
            return
        assert self.process is not None
        try:
            self.process.send_signal(self.spec.stop_signal)
            await asyncio.wait_for(self.process.wait(), self.spec.stop_timeout)
        except TimeoutError:
            logger.warning(
                "%s did not stop in %ss; killing it", self.spec.name, self.spec.stop_timeout
            )
            self.process.kill()
            await self.process.wait()
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 30) -> str:
        """The log's last lines, after the first lines naming an error above them: a server
        that fails to start often logs the cause once, then pages of shutdown tracebacks."""
        try:
            text = self.spec.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        above = text[:-lines]
        errors = [line for line in above if _NAMES_AN_ERROR.search(line)][:5]
        first = [*errors, "..."] if errors else []
        return "\n".join([*first, *text[-lines:]])


_NAMES_AN_ERROR = re.compile(r"error|errno|in use|denied|fatal", re.IGNORECASE)


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    what: str,
    timeout: float,
    child: Child | None = None,
    interval: float = 0.25,
) -> None:
    """Poll `check` until true; fail early with the child's log if it died meanwhile."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            if await check():
                return
        except Exception:  # not up yet: refused connections and the like
            pass
        if child is not None and not child.running():
            raise RuntimeError(f"{what} exited during start-up:\n{child.log_tail()}")
        if asyncio.get_running_loop().time() > deadline:
            tail = f":\n{child.log_tail()}" if child is not None else ""
            raise RuntimeError(f"{what} was not ready after {timeout:.0f}s{tail}")
        await asyncio.sleep(interval)
