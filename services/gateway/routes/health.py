"""Liveness and readiness probes; unauthenticated, so orchestrators can call them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from activities.db.engine import answers
from services.gateway.deps import SessionDep, TemporalDep
from services.gateway.errors import Problem, problem_response
from services.gateway.schemas.health import HealthOut

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> HealthOut:
    """200 while the process answers; needs no key."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: Postgres and Temporal answer",
    response_model=HealthOut,
    responses={
        503: {"model": Problem, "description": "A dependency is down; `checks` says which."}
    },
)
async def readyz(session: SessionDep, client: TemporalDep) -> HealthOut | JSONResponse:
    """200 when Postgres and Temporal both answer, else 503 naming the one that does not;
    needs no key."""
    checks = {
        "postgres": await _check("postgres", answers(session)),
        "temporal": await _check("temporal", _temporal(client)),
    }
    if all(result == "ok" for result in checks.values()):
        return HealthOut(status="ready", checks=checks)
    failing = ", ".join(name for name, result in checks.items() if result != "ok")
    return problem_response(
        503, f"not ready: {failing} unavailable", instance="/readyz", extra={"checks": checks}
    )


async def _temporal(client: TemporalDep) -> bool:
    return await client.service_client.check_health(
        timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS)
    )


async def _check(name: str, probe: Coroutine[Any, Any, bool]) -> str:
    """'ok' or 'unavailable'; the reason goes to the log, not to the caller."""
    try:
        ok = await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return "unavailable"
    return "ok" if ok else "unavailable"
