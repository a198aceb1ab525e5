"""Counts and times every HTTP request the gateway answers, by route template rather than
path, so a task id never becomes a label."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.metrics import GatewayMetrics
from services.gateway.request_guard import BODY_METHODS, GUARDED_PREFIX

UNMATCHED = "unmatched"  # no route has this path (404)
GUARD = "request_guard"  # refused by the request guard before routing (401, 413, 422, ...)


class HttpMetrics:
    """ASGI middleware; outermost, so it also sees the answers the request guard gives before
    a route is chosen (labelled `request_guard`)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500  # what the client gets if the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route, method = _template(scope, status), scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.request_seconds.labels(method, route).observe(time.monotonic() - started)


def _template(scope: Scope, status: int) -> str:
    routed = getattr(scope.get("route"), "path", None)
    if routed:
        return str(routed)
    guarded = scope["method"] in BODY_METHODS and scope["path"].startswith(GUARDED_PREFIX)
    return GUARD if guarded and status != 404 else UNMATCHED
