"""Loopback ports for the servers tests start.

A port found free by binding to port 0 comes from the kernel's ephemeral range, the same range
every outgoing connection and every other port-0 bind draws from (the Temporal dev server picks
its internal ports that way). Between our check and the server's bind, which takes LiteLLM ten
seconds of imports, any of those can take it; CI once lost a run to that. Ports handed out here
lie below the ephemeral range, where nothing is assigned by chance, and are never handed out
twice by one process.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()


def _range() -> tuple[int, int]:
    try:
        ephemeral_low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    high = max(ephemeral_low, 12000)
    return high - 10000, high


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(block: int = 1) -> int:
    """A port (or the first of `block` consecutive ones) free on 127.0.0.1 now, outside the
    kernel's ephemeral range."""
    low, high = _range()
    for _ in range(500):
        first = random.randrange(low, high - block)
        ports = range(first, first + block)
        if not _handed_out.intersection(ports) and all(_bindable(p) for p in ports):
            _handed_out.update(ports)
            return first
    raise RuntimeError(f"no {block} free consecutive port(s) between {low} and {high}")
