"""`python -m bench [--list] [<name> [options]]`: without a name, every benchmark with its
defaults. Each prints its Markdown report and rewrites its section of docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import Any

from bench import (
    approval_latency,
    command_line,
    first_token,
    load_burst,
    long_task,
    overhead,
    parked,
    signal_floor,
    skill_choice,
    update_section,
    worker_kill,
)

# in this order: approval-latency compares with the floor signal-floor has just recorded
BENCHMARKS: dict[str, ModuleType] = {
    signal_floor.NAME: signal_floor,
    approval_latency.NAME: approval_latency,
    long_task.NAME: long_task,
    load_burst.NAME: load_burst,
    worker_kill.NAME: worker_kill,
    first_token.NAME: first_token,
    overhead.NAME: overhead,
    parked.NAME: parked,
    skill_choice.NAME: skill_choice,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--list", action="store_true", help="name the benchmarks and stop")
    commands = parser.add_subparsers(dest="name", metavar="<name>")
    for name, module in BENCHMARKS.items():
        command = commands.add_parser(name, help=module.TITLE)
        module.add_arguments(command)
        command.add_argument(
            "--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone"
        )
    args = parser.parse_args(argv)
    if args.list:
        sys.stdout.write("".join(f"{n}\t{m.TITLE}\n" for n, m in BENCHMARKS.items()))
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request
    for name in [args.name] if args.name else list(BENCHMARKS):
        module = BENCHMARKS[name]
        options = args
        if not args.name:  # run-all: this benchmark's own defaults
            defaults = argparse.ArgumentParser()
            module.add_arguments(defaults)
            options = defaults.parse_args([])
        run: Callable[[argparse.Namespace, str], Coroutine[Any, Any, str]] = module.run
        report = asyncio.run(run(options, command_line()))
        if not getattr(options, "no_write", False):
            update_section(module.TITLE, report)
            logging.getLogger(__name__).info("wrote the %r section of BENCHMARKS.md", module.TITLE)
        sys.stdout.write(f"\n## {module.TITLE}\n\n{report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
