"""`agentry tenant-cap`, `agentry tenant-budgets` and `agentry tenant-spend-limit`: a tenant's
own cap on running tasks, the highest budgets its tasks may ask for, and what its model calls
may cost in a calendar month."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from services.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    tenant_cap = commands.add_parser(
        "tenant-cap", help="set a tenant's cap on running tasks: agentry tenant-cap TENANT N"
    )
    tenant_cap.add_argument("tenant")
    tenant_cap.add_argument("cap", metavar="N", help="a number >= 1, or 'default'")
    tenant_cap.set_defaults(func=_tenant_cap)
    budgets = commands.add_parser(
        "tenant-budgets",
        help="set the highest budgets a tenant's tasks may ask for: agentry tenant-budgets "
        "TENANT max_model_calls=100 deadline_seconds=3600 ... (or 'default')",
    )
    budgets.add_argument("tenant")
    budgets.add_argument("limits", nargs="+", metavar="NAME=N")
    budgets.set_defaults(func=_tenant_budgets)
    spend = commands.add_parser(
        "tenant-spend-limit",
        help="set what a tenant's model calls may cost per calendar month (UTC): agentry "
        "tenant-spend-limit TENANT USD (or 'none')",
    )
    spend.add_argument("tenant")
    spend.add_argument("limit", metavar="USD")
    spend.set_defaults(func=_tenant_spend_limit)


def _tenant_cap(args: argparse.Namespace) -> int:
    """The tenant's cap overrides `tenant_max_concurrent_tasks`; its waiting tasks see the new
    cap when they next ask for a slot."""
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
    if not _changed(
        settings, lambda session: TenantCapRepository(session).set_cap(args.tenant, cap)
    ):
        print(f"agentry tenant-cap: no tenant named {args.tenant!r}", file=sys.stderr)
        return 2
    shown = cap if cap is not None else f"the default ({settings.tenant_max_concurrent_tasks})"
    print(f"{args.tenant}: at most {shown} running tasks")
    return 0


def _tenant_budgets(args: argparse.Namespace) -> int:
    """The tenant's limits replace the settings' `task_budget_limits` name by name; new
    submits are checked against them (running tasks keep theirs)."""
    from activities.db.tenants import TenantRepository
    from workflows.contracts.budgets import BUDGET_NAMES

    parsed: dict[str, float] = {}
    clear = [value.lower() for value in args.limits] == ["default"]
    if not clear:
        for item in args.limits:
            name, _, raw = item.partition("=")
            value = _limit(name, raw)
            if name not in BUDGET_NAMES or value is None:
                print(
                    f"agentry tenant-budgets: {item!r}: expected NAME=N with N >= 1 (dollars "
                    f"> 0 for max_cost_usd), NAME one of {', '.join(BUDGET_NAMES)}",
                    file=sys.stderr,
                )
                return 2
            parsed[name] = value
    limits = None if clear else parsed
    settings = get_settings()
    tenant = args.tenant
    if not _changed(
        settings, lambda session: TenantRepository(session).set_budget_limits(tenant, limits)
    ):
        print(f"agentry tenant-budgets: no tenant named {args.tenant!r}", file=sys.stderr)
        return 2
    shown = {**settings.task_budget_limits, **(limits or {})}
    print(f"{args.tenant}: " + ", ".join(f"{name} <= {value}" for name, value in shown.items()))
    return 0


def _tenant_spend_limit(args: argparse.Namespace) -> int:
    """Over the limit, the tenant's submits answer 402 and its running tasks stop at their
    next model call (activities/db/spend.py)."""
    from decimal import Decimal, InvalidOperation

    from activities.db.spend import SpendRepository

    raw = args.limit.strip().lower()
    try:
        limit = None if raw == "none" else Decimal(raw.removeprefix("$"))
    except InvalidOperation:
        limit = Decimal(-1)
    if limit is not None and not (limit.is_finite() and 0 < limit <= 10**9):
        print(
            f"agentry tenant-spend-limit: {args.limit!r}: expected US dollars > 0, or 'none'",
            file=sys.stderr,
        )
        return 2
    if not _changed(
        get_settings(), lambda session: SpendRepository(session).set_limit(args.tenant, limit)
    ):
        print(f"agentry tenant-spend-limit: no tenant named {args.tenant!r}", file=sys.stderr)
        return 2
    print(f"{args.tenant}: " + (f"at most ${limit} a month" if limit else "no spend limit"))
    return 0


def _changed(settings: Settings, change: Callable[[AsyncSession], Awaitable[bool]]) -> bool:
    """Run one change in a transaction of its own; False: it found no such tenant."""
    from activities.db.engine import opened_sessions

    async def run() -> bool:
        async with opened_sessions(settings.resolved_database_url) as sessions:
            async with sessions.begin() as session:
                return await change(session)

    return asyncio.run(run())


def _limit(name: str, raw: str) -> float | None:
    """A budget limit as given on the command line: a whole number, or dollars for the cost."""
    try:
        value = float(raw) if name == "max_cost_usd" else int(raw)
    except ValueError:
        return None
    return value if value > 0 and (name == "max_cost_usd" or value >= 1) else None
