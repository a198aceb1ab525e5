"""`agentry pools` and `agentry scale`: watch and scale the worker pools, as operators do over
`GET /v1/pools` and `PUT /v1/pools/{name}/replicas`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from services.settings import get_settings

if TYPE_CHECKING:
    from services.pools.status import PoolList


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    commands.add_parser(
        "pools", help="show each worker pool's backlog, workers, tasks and limits"
    ).set_defaults(func=_pools)
    scale = commands.add_parser("scale", help="set worker replicas per pool: agentry scale NAME=N")
    scale.add_argument("targets", nargs="+", metavar="NAME=N")
    scale.set_defaults(func=_scale)


def _pools(_: argparse.Namespace) -> int:
    from activities.db.engine import opened_sessions
    from services.agent_catalog import AgentCatalog
    from services.pools.catalog import PoolCatalog
    from services.pools.status import describe_pools
    from services.temporal_client import connect_temporal

    settings = get_settings()
    pools = PoolCatalog.load(settings.pools_file)
    agents = AgentCatalog.load(settings.agents_dir, pools=pools.names())

    async def run() -> PoolList:
        client = await connect_temporal(settings)
        async with opened_sessions(settings.resolved_database_url) as sessions:
            return await describe_pools(client, sessions, agents, pools)

    print(_pools_table(asyncio.run(run())))
    return 0


def _pools_table(pools: PoolList) -> str:
    from services.pools.status import QueueBacklog

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
    """Record each pool's desired workers; the embedded supervisor starts or drains to match."""
    from activities.db.engine import opened_sessions
    from services.pools.catalog import PoolCatalog
    from services.pools.scaling import ReplicasOutOfRangeError, UnknownPoolError, scale_pool

    settings = get_settings()
    pools = PoolCatalog.load(settings.pools_file)
    try:
        wanted = [_pool_count(item) for item in args.targets]
    except ValueError as exc:
        print(f"agentry scale: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        async with opened_sessions(settings.resolved_database_url) as sessions:
            for name, count in wanted:
                async with sessions() as session:
                    try:
                        replicas = await scale_pool(session, pools, name, count, "cli")
                    except (UnknownPoolError, ReplicasOutOfRangeError) as exc:
                        print(f"agentry scale: {exc}", file=sys.stderr)
                        return 2
                print(f"{name}: {replicas.desired} replica(s)")
        return 0

    return asyncio.run(run())


def _pool_count(item: str) -> tuple[str, int]:
    name, sep, count = item.partition("=")
    if not sep or not name or not count.strip().isdigit():
        raise ValueError(f"{item!r}: expected NAME=N, e.g. default=3")
    return name, int(count)
