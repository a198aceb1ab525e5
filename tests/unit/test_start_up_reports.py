"""What a developer sees when a child of the dev stack fails to start, and the ports tests give
their servers."""

from __future__ import annotations

import socket
from pathlib import Path

from services.devstack.processes import Child, ChildSpec
from tests.ports import free_port


def test_a_failed_start_shows_the_error_logged_above_the_shutdown_noise(tmp_path: Path) -> None:
    log = tmp_path / "litellm.log"
    noise = [f"  File 'x.py', line {n}, in shutdown" for n in range(100)]
    log.write_text(
        "\n".join(
            [
                "INFO: starting",
                "ERROR: [Errno 98] error while attempting to bind: address already in use",
                *noise,
                "asyncio.exceptions.CancelledError",
            ]
        )
    )
    child = Child(ChildSpec(name="litellm", argv=["true"], log_file=log))

    report = child.log_tail()

    assert report.splitlines()[0].startswith("ERROR: [Errno 98]")
    assert report.splitlines()[-1] == "asyncio.exceptions.CancelledError"
    assert "INFO: starting" not in report
    assert len(report.splitlines()) == 1 + 1 + 30  # the error, "...", the tail


def test_a_short_log_is_shown_whole(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    log.write_text("one\nERROR two\nthree")
    child = Child(ChildSpec(name="gateway", argv=["true"], log_file=log))

    assert child.log_tail() == "one\nERROR two\nthree"


def test_ports_for_test_servers_lie_below_the_ephemeral_range_and_are_not_repeated() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    block = free_port(block=8)

    assert all(port < low for port in [*ports, block + 7])
    assert len(set(ports)) == 50
    assert not set(ports) & set(range(block, block + 8))
    with socket.socket() as s:  # and they are free
        s.bind(("127.0.0.1", block + 7))
