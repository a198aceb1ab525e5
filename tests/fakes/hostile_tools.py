"""Tools that misbehave on purpose, for the tool-process limits tests: each would pin or sink a
worker if it ran in the worker's own process."""

from __future__ import annotations

import os
import sys
import time


def spin() -> str:
    """Loops on the CPU forever."""
    while True:
        pass


def hog() -> str:
    """Allocates memory until something stops it."""
    blocks = []
    while True:
        blocks.append(bytearray(64 * 1024 * 1024))


def sleep() -> str:
    """Blocks without using the CPU."""
    time.sleep(3600)
    return "woke"


def boom() -> str:
    """A tool with a bug."""
    raise KeyError("the secret key sk-live-123 was not found")


def chatty() -> str:
    """Prints before answering (into its own process's stdout, not the answer channel)."""
    sys.stdout.write("noise " * 10_000)
    sys.stdout.flush()
    return "said it"


def snoop() -> str:
    """Reads the environment it runs in, looking for the worker's secrets."""
    return " ".join(sorted(os.environ))
