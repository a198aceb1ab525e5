"""`agentry tenant-cap`: a tenant's own cap on running tasks."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from services.settings import get_settings


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    tenant_cap = commands.add_parser(
        "tenant-cap", help="set a tenant's cap on running tasks: agentry tenant-cap TENANT N"
    )
    tenant_cap.add_argument("tenant")
    tenant_cap.add_argument("cap", metavar="N", help="a number >= 1, or 'default'")
    tenant_cap.set_defaults(func=_tenant_cap)


def _tenant_cap(args: argparse.Namespace) -> int:
    """The tenant's cap overrides `tenant_max_concurrent_tasks`; its waiting tasks see the new
    cap when they next ask for a slot."""
    from activities.db.engine import opened_sessions
    from activities.db.tenant_caps import TenantCapRepository

    raw = args.cap.strip().lower()
    if raw != "default" and not (raw.isdigit() and int(raw) >= 1):
        print(
            f"agentry tenant-cap: {args.cap!r}: expected a number >= 1 or 'default'",
            file=sys.stderr,
        )
        return 2
    cap = None if raw == "default" else int(raw)
    settings = get_settings()

    async def run() -> bool:
        async with opened_sessions(settings.resolved_database_url) as sessions:
            async with sessions.begin() as session:
                return await TenantCapRepository(session).set_cap(args.tenant, cap)

    if not asyncio.run(run()):
        print(f"agentry tenant-cap: no tenant named {args.tenant!r}", file=sys.stderr)
        return 2
    shown = cap if cap is not None else f"the default ({settings.tenant_max_concurrent_tasks})"
    print(f"{args.tenant}: at most {shown} running tasks")
    return 0
