"""`agentry agents [NAME]`: the agents a task may name, with their spec's version, role, pool
and model; for one agent, every recorded version of its spec (which a submit may pin with
`agent_version`). Through the gateway's REST API, like `agentry tasks`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from services.cli.tasks import gateway_client, report_failure


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    agents = commands.add_parser("agents", help="agents, or one agent's spec versions")
    agents.add_argument("name", nargs="?", help="an agent: list the versions of its spec")
    agents.set_defaults(func=_agents)


def _agents(args: argparse.Namespace) -> int:
    path = f"/v1/agents/{args.name}" if args.name else "/v1/agents"
    with gateway_client() as client:
        response = client.get(path)
    if response.status_code != 200:
        return report_failure(response)
    body = response.json()
    rows: list[tuple[str, ...]]
    if args.name:
        print(f"{body['name']} (version {body['version']} runs now): {body['description']}")
        rows = [("VERSION", "FIRST LOADED", "DIGEST", "")]
        rows += [
            (
                str(v["version"]),
                v["recorded_at"],
                v["digest"][:12],
                "current" if v["current"] else "",
            )
            for v in body["versions"]
        ]
    else:
        rows = [("AGENT", "VERSION", "ROLE", "POOL", "MODEL")]
        rows += [
            (a["name"], str(a["version"]), a["role"] or "-", a["pool"], a["model"])
            for a in body["items"]
        ]
    _table(rows)
    return 0


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
