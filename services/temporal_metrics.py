"""The Temporal SDK's own metrics (polls, task slots, schedule-to-start and execution latencies,
sticky cache), served by its Rust core on a loopback port of their own and read back as text,
so a process shows them on its one /metrics beside Agentry's.

The core binds the port itself and cannot say which one it got, so a free one is picked first
(a few tries if another process takes it in between).
"""

from __future__ import annotations

import logging
import socket
import urllib.request

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

logger = logging.getLogger(__name__)

BIND_ATTEMPTS = 5
READ_TIMEOUT_SECONDS = 2.0


class TemporalSdkMetrics:
    """A Temporal runtime whose metrics are served on 127.0.0.1:<port>."""

    def __init__(self, runtime: Runtime, port: int) -> None:
        self.runtime = runtime
        self.port = port

    @classmethod
    def start(cls) -> TemporalSdkMetrics | None:
        """None (logged) when no port could be bound: the process runs without SDK metrics."""
        for _ in range(BIND_ATTEMPTS):
            port = _free_loopback_port()
            config = PrometheusConfig(
                bind_address=f"127.0.0.1:{port}",
                counters_total_suffix=True,
                unit_suffix=True,
                durations_as_seconds=True,
            )
            try:
                return cls(Runtime(telemetry=TelemetryConfig(metrics=config)), port)
            except ValueError as error:  # "Failed starting Prometheus exporter: ..."
                logger.debug("Temporal SDK metrics on port %d: %s", port, error)
        logger.warning("Temporal SDK metrics are off: no loopback port could be bound")
        return None

    def read(self) -> bytes:
        """The SDK's metrics in the text format; b"" when they cannot be read just now."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=READ_TIMEOUT_SECONDS) as answer:  # noqa: S310
                body: bytes = answer.read()
        except OSError as error:
            logger.warning("Temporal SDK metrics unreadable: %s", error)
            return b""
        return body if body.endswith(b"\n") or not body else body + b"\n"


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
