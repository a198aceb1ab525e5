"""The `agentry` command: run the embedded stack, a worker, the gateway; list and watch tasks;
manage API keys and tenant caps; show and scale the worker pools."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import sys

from services.cli import keys, pools, processes, tasks, tenants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentry", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (processes, tasks, pools, tenants, keys):
        group.add_commands(commands)
    args = parser.parse_args(argv)
    faulthandler.enable()  # a native crash (e.g. in the Temporal core) leaves its tracebacks
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for chatty in ("httpx", "alembic.runtime.plugins"):  # readiness polls, plugin set-up
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
