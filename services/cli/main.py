"""The `agentry` command: run the embedded stack, a worker, the gateway; list and watch tasks;
save finished tasks as eval cases and replay them; manage API keys and tenant caps; show and
scale the worker pools."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import sys

from services.cli import agents, evals, keys, pools, processes, tasks, tenants

# commands that serve until stopped; every other one runs once and exits
SERVING = frozenset({"dev", "worker", "gateway"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentry", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (processes, tasks, agents, evals, pools, tenants, keys):
        group.add_commands(commands)
    args = parser.parse_args(argv)
    faulthandler.enable()  # a native crash (e.g. in the Temporal core) leaves its tracebacks
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for chatty in ("httpx", "alembic.runtime.plugins"):  # readiness polls, plugin set-up
        logging.getLogger(chatty).setLevel(logging.WARNING)
    code = int(args.func(args))
    if argv is None and args.command not in SERVING:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End a one-shot command without the interpreter's teardown: a Temporal client's native
    threads can abort a finalizing interpreter (SIGABRT, "PyGILState_Release: thread state …
    must be current", temporalio/sdk-python#300), which turned a finished `agentry pools`
    into exit code -6 now and then."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
