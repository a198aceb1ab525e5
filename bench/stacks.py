"""A fresh embedded stack for one benchmark run (tests/stack.py) in a folder of its own: the
folder goes once the run is done, and stays, with its logs, when the run failed."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.stack import RunningStack, start_stack, stop_stack

logger = logging.getLogger(__name__)

STACK_START_TIMEOUT = 300.0


@asynccontextmanager
async def fresh_stack(name: str, **overrides: Any) -> AsyncIterator[RunningStack]:
    """`overrides` are Settings fields (tests/stack.py's `start_stack`)."""
    base = Path(tempfile.mkdtemp(prefix=f"agentry-bench-{name}-"))
    running: RunningStack | None = None
    ok = False
    try:
        logger.info("%s: starting the stack in %s", name, base)
        running = await asyncio.wait_for(start_stack(base, **overrides), STACK_START_TIMEOUT)
        yield running
        ok = True
    finally:
        if running is not None:
            await stop_stack(running)
        if ok:
            shutil.rmtree(base, ignore_errors=True)
        else:
            logger.error("%s: failed; the logs are kept under %s", name, base)
