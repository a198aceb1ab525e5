"""A worker process's /metrics: its own registry, then the Temporal SDK's metrics, as one page
in Prometheus' text format, on `worker_metrics_host:port`.

Served from a thread of its own, so a scrape never waits for the event loop the activities
run on (the registry is thread-safe). Who may read it: services/metrics_access.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from services.metrics_access import metrics_refusal
from services.temporal_metrics import TemporalSdkMetrics
from services.worker.metrics import WorkerMetrics

logger = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class MetricsServer:
    def __init__(
        self,
        metrics: WorkerMetrics,
        sdk: TemporalSdkMetrics | None,
        token: SecretStr | None,
    ) -> None:
        self._metrics = metrics
        self._sdk = sdk
        self._token = token
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def page(self) -> bytes:
        own = generate_latest(self._metrics.registry)
        return own + (self._sdk.read() if self._sdk is not None else b"")

    def app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            return _plain(start_response, "404 Not Found", "metrics are at /metrics")
        forwarded = "HTTP_FORWARDED" in environ or "HTTP_X_FORWARDED_FOR" in environ
        refusal = metrics_refusal(
            self._token,
            environ.get("HTTP_AUTHORIZATION"),
            environ.get("REMOTE_ADDR"),
            forwarded,
        )
        if refusal is not None:
            status, why = refusal
            return _plain(
                start_response, f"{status} {'Unauthorized' if status == 401 else 'Forbidden'}", why
            )
        body = self.page()
        start_response(
            "200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))]
        )
        return [body]

    def start(self, host: str, port: int) -> bool:
        """Serve in a daemon thread; False (logged) when the address cannot be bound, and the
        worker runs on without an endpoint: metrics must not stop the agents."""
        try:
            self._server = make_server(
                host, port, self.app, server_class=_ThreadingServer, handler_class=_QuietHandler
            )
        except OSError as error:
            logger.error("worker metrics not served: %s:%d: %s", host, port, error.strerror)
            return False
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )
        self._thread.start()
        logger.info("worker metrics on http://%s:%d/metrics", host, port)
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # every scrape is not news
        pass
