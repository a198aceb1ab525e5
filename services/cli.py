"""The `agentry` command: run the embedded stack, a worker, the gateway; manage API keys; show
and scale the worker pools."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import logging
import signal
import sys

from services.settings import get_settings


def _dev(_: argparse.Namespace) -> int:
    from services.devstack import DevStack

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


def _banner(info: object) -> str:
    from services.devstack import StackInfo

    assert isinstance(info, StackInfo)
    lines = [
        "",
        "Agentry is running.",
        f"  API         {info.gateway_url}   (OpenAPI: {info.gateway_url}/docs)",
        f"  Temporal UI {info.temporal_ui_url or '(external Temporal)'}",
        f"  LiteLLM     {info.litellm_url}",
        f"  API key     {info.api_key}",
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
    from services.worker import run_worker

    settings = get_settings()
    import uvloop  # the worker's polls, activities and bridge callbacks on a faster loop

    uvloop.run(run_worker(settings, args.pool or settings.worker_pools))
    return 0


def _pools(_: argparse.Namespace) -> int:
    from activities.db.engine import create_engine, create_session_factory
    from services.agent_specs import AgentCatalog
    from services.pool_status import PoolList, describe_pools
    from services.pools import PoolCatalog
    from services.temporal_client import connect_temporal

    settings = get_settings()
    pools = PoolCatalog.load(settings.pools_file)
    agents = AgentCatalog.load(settings.agents_dir, pools=pools.names())

    async def run() -> PoolList:
        client = await connect_temporal(settings)
        engine = create_engine(settings.resolved_database_url, pool_size=1)
        try:
            return await describe_pools(client, create_session_factory(engine), agents, pools)
        finally:
            await engine.dispose()

    print(_pools_table(asyncio.run(run())))
    return 0


def _pools_table(pools: object) -> str:
    from services.pool_status import PoolList, QueueBacklog

    assert isinstance(pools, PoolList)

    def backlog(queue: QueueBacklog) -> str:
        if queue.count is None:
            return "n/a"
        age = f" ({queue.oldest_age_seconds:.0f}s)" if queue.count else ""
        return f"{queue.count}{age}"

    header = (
        "POOL",
        "BACKLOG WF (OLDEST)",
        "BACKLOG ACT (OLDEST)",
        "WORKERS",
        "RUNNING",
        "APPROVAL",
        "DONE 1H",
        "LIMITS WF/ACT/MODEL",
        "REPLICAS",
        "WANTED",
    )
    rows = [header]
    for pool in pools.items:
        limits = pool.limits
        rows.append(
            (
                pool.name,
                backlog(pool.backlog.workflow_tasks),
                backlog(pool.backlog.activity_tasks),
                str(pool.workers_polling),
                str(pool.tasks.running),
                str(pool.tasks.waiting_approval),
                str(pool.tasks.finished_last_hour),
                f"{limits.max_concurrent_workflow_tasks}/{limits.max_concurrent_activities}"
                f"/{limits.max_concurrent_model_calls}",
                f"{limits.min_replicas}-{limits.max_replicas}",
                str(pool.replicas.desired),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _scale(args: argparse.Namespace) -> int:
    """`agentry scale NAME=N [NAME=N ...]`: record each pool's desired workers (as the REST
    `PUT /v1/pools/{name}/replicas` does); the embedded supervisor starts or drains to match."""
    from activities.db.engine import create_engine, create_session_factory
    from services.pool_scaling import ReplicasOutOfRangeError, UnknownPoolError, scale_pool
    from services.pools import PoolCatalog

    settings = get_settings()
    pools = PoolCatalog.load(settings.pools_file)
    try:
        wanted = [_pool_count(item) for item in args.targets]
    except ValueError as exc:
        print(f"agentry scale: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        engine = create_engine(settings.resolved_database_url, pool_size=1)
        sessions = create_session_factory(engine)
        try:
            for name, count in wanted:
                async with sessions() as session:
                    try:
                        replicas = await scale_pool(session, pools, name, count, "cli")
                    except (UnknownPoolError, ReplicasOutOfRangeError) as exc:
                        print(f"agentry scale: {exc}", file=sys.stderr)
                        return 2
                print(f"{name}: {replicas.desired} replica(s)")
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _pool_count(item: str) -> tuple[str, int]:
    name, sep, count = item.partition("=")
    if not sep or not name or not count.strip().isdigit():
        raise ValueError(f"{item!r}: expected NAME=N, e.g. default=3")
    return name, int(count)


def _tenant_cap(args: argparse.Namespace) -> int:
    """`agentry tenant-cap TENANT N|default`: the tenant's own cap on running tasks (over
    `tenant_max_concurrent_tasks`); waiting tasks see it at their next attempt."""
    from activities.db.engine import create_engine, create_session_factory
    from activities.db.tenant_caps import TenantCapRepository

    raw = args.cap.strip().lower()
    if raw != "default" and not (raw.isdigit() and int(raw) >= 1):
        print(
            f"agentry tenant-cap: {args.cap!r}: expected a number >= 1 or 'default'",
            file=sys.stderr,
        )
        return 2
    cap = None if raw == "default" else int(raw)

    async def run() -> bool:
        engine = create_engine(get_settings().resolved_database_url, pool_size=1)
        try:
            async with create_session_factory(engine).begin() as session:
                return await TenantCapRepository(session).set_cap(args.tenant, cap)
        finally:
            await engine.dispose()

    if not asyncio.run(run()):
        print(f"agentry tenant-cap: no tenant named {args.tenant!r}", file=sys.stderr)
        return 2
    shown = (
        cap if cap is not None else f"the default ({get_settings().tenant_max_concurrent_tasks})"
    )
    print(f"{args.tenant}: at most {shown} running tasks")
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
    from services.migrations import upgrade_database

    upgrade_database(get_settings().resolved_database_url)
    print("database is at the latest migration")
    return 0


def _create_key(args: argparse.Namespace) -> int:
    from activities.db.engine import create_engine, create_session_factory
    from services.api_keys import create_api_key

    async def run() -> str:
        engine = create_engine(get_settings().resolved_database_url, pool_size=1)
        try:
            return await create_api_key(
                create_session_factory(engine), args.tenant, role=args.role, name=args.name
            )
        finally:
            await engine.dispose()

    print(asyncio.run(run()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentry", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run the whole embedded stack (what `make run` does)").set_defaults(
        func=_dev
    )
    worker = sub.add_parser("worker", help="run a worker for one or more pools")
    worker.add_argument(
        "--pool", action="append", help="pool to serve (repeatable; declared in pools_file)"
    )
    worker.set_defaults(func=_worker)
    sub.add_parser(
        "pools", help="show each worker pool's backlog, workers, tasks and limits"
    ).set_defaults(func=_pools)
    scale = sub.add_parser("scale", help="set worker replicas per pool: agentry scale NAME=N")
    scale.add_argument("targets", nargs="+", metavar="NAME=N")
    scale.set_defaults(func=_scale)
    tenant_cap = sub.add_parser(
        "tenant-cap", help="set a tenant's cap on running tasks: agentry tenant-cap TENANT N"
    )
    tenant_cap.add_argument("tenant")
    tenant_cap.add_argument("cap", metavar="N", help="a number >= 1, or 'default'")
    tenant_cap.set_defaults(func=_tenant_cap)
    sub.add_parser("gateway", help="run the REST gateway").set_defaults(func=_gateway)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_migrate)
    keys = sub.add_parser("create-key", help="create an API key and print it once")
    keys.add_argument("--tenant", required=True)
    keys.add_argument(
        "--role", default="submitter", choices=["submitter", "approver", "operator", "admin"]
    )
    keys.add_argument("--name", default="cli")
    keys.set_defaults(func=_create_key)
    args = parser.parse_args(argv)
    faulthandler.enable()  # a native crash (e.g. in the Temporal core) leaves its tracebacks
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for chatty in ("httpx", "alembic.runtime.plugins"):  # readiness polls, plugin set-up
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
