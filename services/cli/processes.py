"""`agentry dev`, `worker`, `gateway`, `migrate`: the processes of a deployment, and the whole
embedded stack in one."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, Any

from services.settings import get_settings

if TYPE_CHECKING:
    from services.devstack.supervisor import StackInfo


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    commands.add_parser(
        "dev", help="run the whole embedded stack (what `make run` does)"
    ).set_defaults(func=_dev)
    worker = commands.add_parser("worker", help="run a worker for one or more pools")
    worker.add_argument(
        "--pool", action="append", help="pool to serve (repeatable; declared in pools_file)"
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        help="serve /metrics on this port (default AGENTRY_WORKER_METRICS_PORT; 0: not served)",
    )
    worker.set_defaults(func=_worker)
    commands.add_parser("gateway", help="run the REST gateway").set_defaults(func=_gateway)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=_migrate)


def _dev(_: argparse.Namespace) -> int:
    from services.devstack.supervisor import DevStack

    settings = get_settings()
    stack = DevStack(settings)

    async def run() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print("starting the embedded stack (logs in %s) ..." % (settings.data_dir / "logs"))
        starting = asyncio.create_task(stack.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done():
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
            await stack.stop()
            print("stopped.")
            return 130
        stopping.cancel()
        try:
            info = starting.result()
        except Exception as exc:
            print(f"start-up failed: {exc}", file=sys.stderr)
            return 1
        print(_banner(info))
        supervising = asyncio.create_task(stack.supervise())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({supervising, stopping}, return_when=asyncio.FIRST_COMPLETED)
        code = 0
        if supervising.done() and supervising.exception() is not None:
            print(f"stopping: {supervising.exception()}", file=sys.stderr)
            code = 1
        supervising.cancel()
        print("stopping the embedded stack ...")
        await stack.stop()
        print("stopped.")
        return code

    return asyncio.run(run())


def _banner(info: StackInfo) -> str:
    metrics = f"{info.gateway_url}/metrics"
    if info.first_worker_metrics_url:  # the fleet's next workers take the next ports
        metrics += f", workers {info.first_worker_metrics_url} and the next ports"
    lines = [
        "",
        "Agentry is running.",
        f"  API         {info.gateway_url}   (OpenAPI: {info.gateway_url}/docs)",
        f"  Temporal UI {info.temporal_ui_url or '(external Temporal)'}",
        f"  LiteLLM     {info.litellm_url}",
        f"  API key     {info.api_key}",
        f"  Metrics     {metrics}",
        "",
        "Submit a task:",
        f"  curl -s -X POST {info.gateway_url}/v1/tasks \\",
        f"    -H 'Authorization: Bearer {info.api_key}' -H 'Content-Type: application/json' \\",
        '    -d \'{"agent": "assistant", "input": "What is 1234 * 5678 + 91?"}\'',
        "Then read it back:",
        f"  curl -s {info.gateway_url}/v1/tasks/<id> -H 'Authorization: Bearer {info.api_key}'",
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def _worker(args: argparse.Namespace) -> int:
    import uvloop  # the worker's polls, activities and bridge callbacks on a faster loop

    from services.worker.process import run_worker

    settings = get_settings()
    uvloop.run(run_worker(settings, args.pool or settings.worker_pools, args.metrics_port))
    return 0


def _gateway(_: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "services.gateway.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from activities.db.migrations import upgrade_database

    upgrade_database(get_settings().resolved_database_url)
    print("database is at the latest migration")
    return 0
