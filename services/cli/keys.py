"""`agentry keys create|list|revoke` (and the older `agentry create-key`): API keys, printed
once when made, listed by prefix, revoked at once."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from services.roles import Role
from services.settings import get_settings


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    keys = commands.add_parser("keys", help="create, list or revoke API keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create an API key and print it once")
    _creation_arguments(create)
    listing = actions.add_parser("list", help="list API keys (one tenant's, or all)")
    listing.add_argument("--tenant", help="only this tenant's keys")
    listing.set_defaults(func=_list_keys)
    revoke = actions.add_parser("revoke", help="revoke a key: it is refused from now on")
    revoke.add_argument("key", help="the key's id or its prefix (see `agentry keys list`)")
    revoke.set_defaults(func=_revoke_key)
    old = commands.add_parser("create-key", help="the same as `agentry keys create`")
    _creation_arguments(old)


def _creation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True)
    parser.add_argument(
        "--role", default=Role.submitter.value, choices=[role.value for role in Role]
    )
    parser.add_argument("--name", default="cli")
    parser.add_argument(
        "--expires-in", metavar="DURATION", help="e.g. 90d, 12h, 30m; never expires if unset"
    )
    parser.set_defaults(func=_create_key)


def _create_key(args: argparse.Namespace) -> int:
    from activities.db.engine import opened_sessions
    from services.duration import parse_duration
    from services.key_service import create_api_key

    expires_at = None
    if args.expires_in:
        try:
            expires_at = datetime.now(UTC) + timedelta(seconds=parse_duration(args.expires_in))
        except ValueError as exc:
            print(f"--expires-in: {exc}", file=sys.stderr)
            return 2

    async def run() -> str:
        async with opened_sessions(get_settings().resolved_database_url) as sessions:
            return await create_api_key(
                sessions, args.tenant, role=args.role, name=args.name, expires_at=expires_at
            )

    print(asyncio.run(run()))
    return 0


def _list_keys(args: argparse.Namespace) -> int:
    from activities.db.api_keys import ApiKeyRepository
    from activities.db.engine import opened_sessions
    from activities.db.tenants import TenantRepository

    async def run() -> list[list[str]] | None:
        async with opened_sessions(get_settings().resolved_database_url) as sessions:
            async with sessions() as session:
                tenant_id = None
                if args.tenant:
                    tenant = await TenantRepository(session).find(args.tenant)
                    if tenant is None:
                        return None
                    tenant_id = tenant.id
                rows = await ApiKeyRepository(session).list_keys(tenant_id)
        return [
            [str(key.id), key.prefix, tenant, key.name, key.role, _when(key.created_at),
             _when(key.expires_at), _when(key.last_used_at), _when(key.revoked_at)]
            for key, tenant in rows
        ]  # fmt: skip

    rows = asyncio.run(run())
    if rows is None:
        print(f"no tenant named {args.tenant!r}", file=sys.stderr)
        return 1
    head = ["ID", "PREFIX", "TENANT", "NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED", "REVOKED"]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    from activities.db.api_keys import ApiKeyRepository
    from activities.db.engine import opened_sessions

    async def run() -> str:
        async with opened_sessions(get_settings().resolved_database_url) as sessions:
            async with sessions.begin() as session:
                keys = ApiKeyRepository(session)
                matches = [
                    key for key, _ in await keys.list_keys()
                    if str(key.id) == args.key or key.prefix == args.key
                ]  # fmt: skip
                if len(matches) != 1:
                    return "no key" if not matches else "more than one key"
                await keys.revoke(matches[0].id)
                return f"revoked {matches[0].prefix} ({matches[0].name})"

    outcome = asyncio.run(run())
    if not outcome.startswith("revoked"):
        print(f"{outcome} matches {args.key!r}", file=sys.stderr)
        return 1
    print(outcome)
    return 0


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"
