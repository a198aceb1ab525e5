"""Prometheus' scrape endpoint. Not under /v1 and not an API key's business: who may read it
is decided by services/metrics_access.py (a metrics token, or loopback when none is set)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from services.gateway.deps import SettingsDep
from services.gateway.errors import ProblemError
from services.gateway.metrics import GatewayMetrics
from services.metrics_access import metrics_refusal

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    """The gateway's metrics in Prometheus' text format, then the Temporal SDK's client
    metrics. Figures read from Postgres are left out while it is unreachable
    (`agentry_metrics_database_up 0`); the answer is still 200."""
    client = request.client.host if request.client else None
    forwarded = "forwarded" in request.headers or "x-forwarded-for" in request.headers
    refusal = metrics_refusal(
        settings.metrics_token, request.headers.get("authorization"), client, forwarded
    )
    if refusal is not None:
        status, why = refusal
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        raise ProblemError(status, why, kind="metrics-refused", headers=headers)
    gateway: GatewayMetrics = request.app.state.metrics
    return Response(await gateway.page(), media_type=CONTENT_TYPE_LATEST)
