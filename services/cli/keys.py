"""`agentry create-key`: an API key for a tenant, printed once."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from services.roles import Role
from services.settings import get_settings


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    keys = commands.add_parser("create-key", help="create an API key and print it once")
    keys.add_argument("--tenant", required=True)
    keys.add_argument("--role", default=Role.submitter.value, choices=[role.value for role in Role])
    keys.add_argument("--name", default="cli")
    keys.set_defaults(func=_create_key)


def _create_key(args: argparse.Namespace) -> int:
    from activities.db.engine import opened_sessions
    from services.key_service import create_api_key

    async def run() -> str:
        async with opened_sessions(get_settings().resolved_database_url) as sessions:
            return await create_api_key(sessions, args.tenant, role=args.role, name=args.name)

    print(asyncio.run(run()))
    return 0
