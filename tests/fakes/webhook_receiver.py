"""A webhook endpoint for tests: records every delivery, whether its signature verifies with
`WEBHOOK_SECRET`, and can refuse the first few of each approval, so a test sees Temporal's
retries deliver it in the end.

Run as `python -m tests.fakes.webhook_receiver --port N` (loopback).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel

from activities.webhooks import ID_HEADER, verify

WEBHOOK_SECRET = "whsec-test-receiver"  # the stack's AGENTRY_APPROVAL_WEBHOOK_SECRET


class ReceiverConfig(BaseModel):
    fail_first: int = 0  # answer 503 to this many deliveries of each approval


def create_app() -> FastAPI:
    app = FastAPI()
    config = ReceiverConfig()
    deliveries: dict[str, list[dict[str, Any]]] = defaultdict(list)

    @app.put("/_config")
    async def configure(new: ReceiverConfig) -> ReceiverConfig:
        config.fail_first = new.fail_first
        return config

    @app.post("/hook")
    async def hook(request: Request, response: Response) -> dict[str, str]:
        body = await request.body()
        payload = json.loads(body)
        approval_id = str(payload.get("approval", {}).get("id"))
        attempts = deliveries[approval_id]
        refused = len(attempts) < config.fail_first
        attempts.append(
            {
                "payload": payload,
                "answered": 503 if refused else 200,
                "signature_valid": verify(WEBHOOK_SECRET, dict(request.headers), body),
                "delivery_id": request.headers.get(ID_HEADER),
            }
        )
        if refused:
            response.status_code = 503
            return {"status": "try again"}
        return {"status": "ok"}

    @app.get("/_deliveries/{approval_id}")
    async def received(approval_id: str) -> list[dict[str, Any]]:
        return deliveries.get(approval_id, [])

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
